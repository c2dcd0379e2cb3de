#include "graph/model_import.h"

#include <filesystem>

#include "graph/error.h"
#include "graph/scalesim_topology.h"

namespace qsim {

LayerGraph import_model(const std::string& path, const OnnxImportOptions& opts) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail("{}: cannot open: No such file or directory", path);
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".onnx") return import_onnx(path, opts);
  if (ext == ".csv") return import_scalesim_topology(path);
  fail("{}: unknown model format '{}' (expected .onnx, or .csv for a SCALE-Sim topology)", path, ext);
}

}  // namespace qsim
