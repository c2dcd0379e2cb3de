// PrecisionAlloc — per-layer weight/activation bit widths (alloc.json).
//
// One format for the whole project: `qsim simulate --precision`, `qsim quantize
// --precision`, `qsim sensitivity` and the search all read and write it.
//
//   {
//     "format": "qsim-precision", "version": 1,
//     "model": "resnet18",                      (optional, informative)
//     "layers": [
//       {"name": "conv1", "wbits": 8, "abits": 8, "per_channel": true},
//       ...
//     ]
//   }
//
// Layer names are the compute-layer names of the fused LayerGraph (see `qsim info`).
// Extra per-layer keys (scales written by `qsim quantize`) and extra top-level
// sections are preserved verbatim.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "graph/layer_graph.h"

namespace qsim {

struct LayerPrecision {
  int wbits = 8;
  int abits = 8;
  bool per_channel = false;
  bool operator==(const LayerPrecision&) const = default;
};

class PrecisionAlloc {
 public:
  PrecisionAlloc() = default;

  // Every compute layer of `g` at the same widths.
  static PrecisionAlloc uniform(const LayerGraph& g, int wbits, int abits, bool per_channel = false);
  // Reads alloc.json; throws qsim::Error("<path>: <problem>") on any defect
  // (syntax, wrong type, width outside 1..32, duplicate layer).
  static PrecisionAlloc load(const std::string& path);
  // The same from JSON text in memory; `source` names it in messages.
  static PrecisionAlloc parse(std::string_view text, std::string_view source);
  static PrecisionAlloc from_json(const nlohmann::json& j, std::string_view source);
  nlohmann::json to_json() const;
  // Writes atomically (temporary file + rename), so a failure leaves no partial file.
  void save(const std::string& path) const;

  void set(const std::string& layer, LayerPrecision p);
  const LayerPrecision* find(std::string_view layer) const;
  // Throws qsim::Error naming the layer when it is absent.
  const LayerPrecision& at(std::string_view layer) const;
  std::size_t size() const { return entries_.size(); }
  const std::vector<std::pair<std::string, LayerPrecision>>& entries() const { return entries_; }

  // Precision of each compute layer of `g`, in g.compute_layers() order. Throws
  // qsim::Error naming `source` when layers are absent or entries name layers that
  // are not compute layers of `g`: every one of them (the first 8 of a long list, with
  // the count), and the model the file was made for when its "model" differs from
  // g.name. A file whose layers all match is used whatever its "model" says: a
  // renamed or re-exported copy of a model keeps its layer names.
  std::vector<LayerPrecision> resolve(const LayerGraph& g, std::string_view source) const;

  std::string model;  // the model it was made for; named when its layers do not match

  // Extra per-layer JSON (e.g. scales) carried through load/save untouched.
  nlohmann::json& extra(const std::string& layer) { return extra_[layer]; }
  const nlohmann::json* find_extra(std::string_view layer) const;

  // Extra top-level sections (e.g. "quantization": the activation scales `qsim
  // quantize` used) carried through load/save untouched, after "layers".
  nlohmann::json& section(const std::string& key) { return sections_[key]; }
  const nlohmann::json* find_section(std::string_view key) const;

 private:
  std::vector<std::pair<std::string, LayerPrecision>> entries_;
  nlohmann::json extra_ = nlohmann::json::object();
  nlohmann::json sections_ = nlohmann::json::object();
};

}  // namespace qsim
