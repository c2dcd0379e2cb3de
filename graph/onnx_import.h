// ONNX import: ModelProto (Debian's libonnx-dev protobuf classes) -> LayerGraph.
//
// Steps, as a compiler would run them before quantization:
//   parse -> check operators (every unsupported op type listed, with its first
//   node) -> static shape inference with constant folding of initializer-only
//   subgraphs -> BatchNormalization folded into the preceding Conv ->
//   Conv/Gemm/MatMul (+BN) (+activation) fused into one layer -> Identity and
//   Dropout removed.
// Any defect throws qsim::Error with a one-line message that names the file.
#pragma once

#include <string>

#include "graph/layer_graph.h"

namespace qsim {

struct OnnxImportOptions {
  bool fold_batchnorm = true;      // BN after Conv folded into the Conv's weights and bias
  bool fuse_activations = true;    // Relu/Clip/... after a compute layer become its Activation
  bool keep_weights = true;        // false: shapes only (timing-only use, less memory)
  int64_t batch = 1;               // value for symbolic/unknown batch dimensions
};

LayerGraph import_onnx(const std::string& path, const OnnxImportOptions& opts = {});
// Same, from bytes already in memory (`source` names them in messages).
LayerGraph import_onnx_bytes(const std::string& bytes, const std::string& source,
                             const OnnxImportOptions& opts = {});

}  // namespace qsim
