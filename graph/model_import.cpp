#include "graph/model_import.h"

#include <filesystem>

#include "graph/error.h"
#include "graph/scalesim_topology.h"

namespace qsim {

LayerGraph import_model(const std::string& path, const OnnxImportOptions& opts) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))  // ec: a name too long, a part that is a file, ...
    fail("{}: cannot open: {}", path, ec ? ec.message() : std::string("No such file or directory"));
  if (std::filesystem::is_directory(path, ec)) fail("{}: cannot open: is a directory", path);
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".onnx") return import_onnx(path, opts);
  if (ext == ".csv") return import_scalesim_topology(path);
  fail("{}: unknown model format '{}' (expected .onnx, or .csv for a SCALE-Sim topology)", path, ext);
}

}  // namespace qsim
