// The bundled Fashion-MNIST models and test images (models/), shared by the quant
// and search tests: each model is imported once per test binary.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "data/dataset.h"
#include "graph/model_import.h"

namespace qsim {

// A file of models/.
inline std::string bundled_file(const std::string& f) { return std::string(QSIM_SOURCE_DIR) + "/models/" + f; }

// models/<name>.onnx.
inline std::string bundled_onnx(const std::string& name) { return bundled_file(name + ".onnx"); }

// The first 100 Fashion-MNIST test images and their labels (models/fmnist_test100*.npy).
inline const Dataset& fmnist_test100() {
  static const std::unique_ptr<Dataset> d =
      load_npy_dataset(bundled_file("fmnist_test100.npy"), bundled_file("fmnist_test100_labels.npy"));
  return *d;
}

// A bundled model by name, imported on first use.
inline const LayerGraph& bundled_model(const std::string& name) {
  static std::map<std::string, LayerGraph> cache;
  auto it = cache.find(name);
  if (it == cache.end()) it = cache.emplace(name, import_model(bundled_onnx(name))).first;
  return it->second;
}

}  // namespace qsim
