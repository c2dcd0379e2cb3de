// ONNX import: ModelProto (Debian's libonnx-dev protobuf classes) -> LayerGraph.
//
// Steps, as a compiler would run them before quantization:
//   parse -> check operators (every unsupported op type listed, with its first
//   node) -> static shape inference with constant folding of initializer-only
//   subgraphs -> the import passes of graph/passes.h: Identity and Dropout
//   removed, BatchNormalization folded into the preceding Conv,
//   Conv/Gemm/MatMul (+activation) and Add/Sum (+Relu/Clip) fused into one node.
// Any defect throws qsim::Error with a one-line message that names the file.
//
// Opsets 1 to 21 of the default domain are read with each operator's semantics
// at that opset (attributes that became inputs, Softmax before/after 13, ...).
//
// What the IR holds after import (the executor's contract):
// - Every shape is static. An unknown or symbolic first dimension of a graph
//   input takes OnnxImportOptions::batch; any other symbolic dimension is an error.
// - Shape-like operands are resolved into attributes and dropped from the
//   inputs: Reshape {data} (the target is the output shape), Squeeze/Unsqueeze
//   {data} + AxesAttrs (normalized, sorted; Squeeze without axes lists the
//   1-sized axes), Clip {data} + ActAttrs (alpha = min, beta = max; a missing
//   bound is -inf/+inf), Pad {data} + PadAttrs (pads for every axis; opset-18
//   axes expanded). Transpose always has its perm, Flatten/Concat/Softmax a
//   non-negative axis.
// - Conv/MaxPool/AveragePool have explicit kernel, strides, dilations and pads
//   (auto_pad resolved). MaxPool may have a second output, Indices (int64).
// - BatchNormalization that cannot be folded stays {X, scale, B, mean, var}.
// - Dropout (inference) is removed; a requested mask output becomes a constant
//   bool tensor of ones. Training-mode Dropout is accepted only with ratio 0.
// - A node's name is the ONNX node name, or its first output's name when the
//   node has none, made unique with a "_2", "_3", ... suffix if needed.
// - Node::fused is empty for a node made of one source node; otherwise it lists
//   every source node folded into it, in order, the node's own first
//   (e.g. {"conv1", "bn1", "relu1"}).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "graph/layer_graph.h"
#include "graph/tensor.h"

namespace qsim {

struct OnnxImportOptions {
  bool fold_batchnorm = true;      // BN after Conv folded into the Conv's weights and bias
  bool fuse_activations = true;    // Relu/Clip/... after a compute layer become its Activation
  bool keep_weights = true;        // false: shapes only (timing-only use, less memory)
  int64_t batch = 1;               // value for symbolic/unknown batch dimensions
  // Graph inputs fixed at import: they become constants. ONNX's operator tests feed
  // shape-like operands (Reshape's shape, Clip's bounds, Pad's pads, ...) as graph
  // inputs; binding them here lets such graphs import with static shapes.
  std::map<std::string, Tensor> constant_inputs;
};

LayerGraph import_onnx(const std::string& path, const OnnxImportOptions& opts = {});
// Same, from bytes already in memory (`source` names them in messages).
LayerGraph import_onnx_bytes(const std::string& bytes, const std::string& source,
                             const OnnxImportOptions& opts = {});

// Graph inputs of the model at `path` that the importer needs as values, because
// they feed an operand it resolves statically: Reshape's shape, Squeeze/Unsqueeze
// axes, Pad pads/constant_value/axes, Clip min/max, Dropout ratio/training_mode,
// ConstantOfShape's shape, any input of Gather or Cast. Bind them (e.g. from
// ONNX's test data) with OnnxImportOptions::constant_inputs. File order.
std::vector<std::string> onnx_inputs_needing_values(const std::string& path);

// A serialized TensorProto (the input_N.pb / output_N.pb files of ONNX's tests).
Tensor load_onnx_tensor(const std::string& path);
Tensor parse_onnx_tensor(const std::string& bytes, const std::string& source);

}  // namespace qsim
