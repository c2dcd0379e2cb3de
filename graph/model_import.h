// One entry point for every model source the CLI accepts.
#pragma once

#include <string>

#include "graph/layer_graph.h"
#include "graph/onnx_import.h"

namespace qsim {

// .onnx -> import_onnx; .csv -> import_scalesim_topology. Throws qsim::Error
// ("<path>: ...") for a missing file or an unknown extension.
LayerGraph import_model(const std::string& path, const OnnxImportOptions& opts = {});

}  // namespace qsim
