// The cross-check sweep (docs/systemc.md, "Against the analytical model"): every
// layer of torchvision's resnet18 and mobilenet_v2 (.cache/models) on every shipped
// config (configs/*.yaml) and every dataflow, timed by the analytical and the SystemC
// backend. Compute cycles must be equal on every layer (the vector unit's busy cycles
// on every Requantize/Vector row); total cycles within 2% per row and 1% per network.
// One line per (model, config, dataflow), the worst errors last (also the worst
// Requantize/Vector row); exit 1 when a bound is broken.
//
//   build/bench/systemc_crosscheck [--bits N [--mixed]] [--set KEY=VALUE ...] [MODEL.onnx ...]
//
// --mixed: every other compute layer at 8 bits instead of N, so the Program has
// Requantize steps where the widths change.
//
// --set applies to every config (e.g. memory.dram_latency_cycles=0 isolates the
// latency effect). The signed extremes say in which direction the models differ.
//
// A thin sc_main: libsystemc's main() calls it.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <systemc>

#include "graph/model_import.h"
#include "sim/analytical/analytical_backend.h"
#include "sim/config/hw_spec_yaml.h"
#include "sim/systemc/cross_check.h"
#include "sim/systemc/systemc_backend.h"

namespace {

namespace fs = std::filesystem;
using namespace qsim;

struct Worst {
  double error = -1.0;
  std::string where;
  void see(double e, const std::string& w) {
    if (e > error) error = e, where = w;
  }
};

}  // namespace

int sc_main(int argc, char* argv[]) {
  int bits = 8;
  bool mixed = false;  // layers alternate between `bits` and 8 bits: Requantize steps between them
  std::vector<std::string> models, sets;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--bits" && i + 1 < argc) {
      bits = std::stoi(argv[++i]);
    } else if (a == "--mixed") {
      mixed = true;
    } else if (a == "--set" && i + 1 < argc) {
      sets.push_back(argv[++i]);
    } else {
      models.push_back(a);
    }
  }
  if (models.empty())
    for (const char* m : {"resnet18", "mobilenet_v2"}) models.push_back(std::string(QSIM_MODEL_CACHE) + "/" + m + ".onnx");
  std::vector<std::string> configs;
  for (const auto& e : fs::directory_iterator(std::string(QSIM_SOURCE_DIR) + "/configs"))
    if (e.path().extension() == ".yaml") configs.push_back(e.path().string());
  std::sort(configs.begin(), configs.end());

  Worst layer, network, slower, faster;  // slower/faster: signed, per layer (systemc vs analytical)
  Worst vector_row;                      // the worst Requantize/Vector row
  int mismatches = 0;
  int64_t vector_rows = 0;
  std::printf("%-14s %-18s %-3s %6s %8s %9s %9s  %s\n", "model", "config", "df", "layers", "compute", "network%",
              "layer%", "worst layer");
  for (const std::string& path : models) {
    OnnxImportOptions io;
    io.keep_weights = false;
    const LayerGraph g = import_model(path, io);
    std::vector<LayerPrecision> p(g.compute_layers().size(), LayerPrecision{bits, bits, false});
    if (mixed)
      for (std::size_t i = 1; i < p.size(); i += 2) p[i] = LayerPrecision{8, 8, false};
    for (const std::string& cfg : configs)
      for (Dataflow df : {Dataflow::kOS, Dataflow::kWS, Dataflow::kIS}) {
        HwSpec hw = load_hw_spec(cfg, sets);
        hw.array.dataflow = df;
        if (effective_width(hw.pe, bits) == 0) continue;  // the PE cannot run this width
        const TimingReport a = AnalyticalBackend().run(g, std::span<const LayerPrecision>(p), hw);
        const TimingReport s = SystemcBackend().run(g, std::span<const LayerPrecision>(p), hw);
        const CrossCheck c = cross_check(a, s);
        const std::string where = g.name + "/" + hw.name + "/" + std::string(dataflow_name(df));
        std::printf("%-14s %-18s %-3s %6zu %8s %9.4f %9.4f  %s\n", g.name.c_str(), hw.name.c_str(),
                    std::string(dataflow_name(df)).c_str(), c.layers.size(), c.compute_mismatches ? "DIFFER" : "equal",
                    100.0 * c.network_error, 100.0 * c.worst_layer_error, c.worst_layer.c_str());
        std::fflush(stdout);
        mismatches += c.compute_mismatches;
        layer.see(c.worst_layer_error, where + " " + c.worst_layer);
        for (const LayerCrossCheck& l : c.layers) {
          const double d = static_cast<double>(l.total_systemc - l.total_analytical) / static_cast<double>(l.total_analytical);
          slower.see(d, where + " " + l.name);
          faster.see(-d, where + " " + l.name);
          if (l.vector) {
            ++vector_rows;
            vector_row.see(l.error(), where + " " + l.name);
          }
        }
        network.see(c.network_error, where);
      }
  }
  const bool ok = mismatches == 0 && layer.error <= 0.02 && network.error <= 0.01;
  std::printf("compute cycles: %s (%d layers differ)\n", mismatches ? "DIFFER" : "equal on every layer", mismatches);
  std::printf("largest per-layer difference with systemc slower: %+.4f%% (%s)\n", 100.0 * std::max(0.0, slower.error),
              slower.where.c_str());
  std::printf("largest per-layer difference with systemc faster: %+.4f%% (%s)\n", -100.0 * std::max(0.0, faster.error),
              faster.where.c_str());
  std::printf("worst Requantize/Vector row error: %.4f%% (%s; %lld such rows)\n", 100.0 * std::max(0.0, vector_row.error),
              vector_row.where.c_str(), static_cast<long long>(vector_rows));
  std::printf("worst network error: %.4f%% (%s), bound 1%%\n", 100.0 * network.error, network.where.c_str());
  std::printf("worst layer error: %.4f%% (%s), bound 2%%%s\n", 100.0 * layer.error, layer.where.c_str(),
              ok ? "" : "  -- BOUND BROKEN");
  return ok ? 0 : 1;
}
