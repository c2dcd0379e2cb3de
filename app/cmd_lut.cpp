// qsim lut: the latency/energy lookup table indexed [layer][wbits][abits] that
// hardware-aware quantization tools (AMED-style searches) consume instead of
// calling a simulator in their loop.
//
// Each (wbits, abits) pair of --bits is one run of the backend with every layer
// at that pair, so an entry is the layer's cost at those widths with no
// requantization around it (a uniform network has no precision boundaries).
// Pairs the PE cannot run (a width above every pe.widths entry) are kept in the
// table as unsupported: `supported` 0 and empty cost fields in CSV, null in JSON,
// so a consumer sees the hole instead of a made-up number. Widths between two
// supported ones run at the next wider one (run_wbits / run_abits say which).
#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/cmd_simulate.h"
#include "app/report.h"
#include "data/npy.h"
#include "graph/error.h"
#include "sim/analytical/analytical_backend.h"

namespace qsim::app {

namespace {

struct Cell {
  bool supported = false;
  int run_wbits = 0;
  int run_abits = 0;
  const LayerTiming* row = nullptr;
};

}  // namespace

int run_lut(const LutOptions& o) {
  if (o.bits.empty()) fail("--bits needs at least one width, e.g. --bits 2,4,8");
  std::vector<int> bits = o.bits;
  for (int b : bits)
    if (b < 1 || b > 32) fail("--bits {}: a width must be between 1 and 32", b);
  std::sort(bits.begin(), bits.end());
  bits.erase(std::unique(bits.begin(), bits.end()), bits.end());

  // --npy FILE.npy writes FILE.energy_pj.npy beside it.
  const std::string npy_energy = o.npy.ends_with(".npy") ? o.npy.substr(0, o.npy.size() - 4) + ".energy_pj.npy" : "";
  OutputFiles out = timing_inputs(o.hw, o.model, {})
                        .output("--out", o.out)
                        .output("--npy", o.npy)
                        .output("--npy", npy_energy)
                        .check();
  std::string format = "csv";
  if (!o.out.empty()) {
    const std::string ext = o.out.size() >= 5 ? o.out.substr(o.out.size() - 5) : "";
    if (ext == ".json") {
      format = "json";
    } else if (ext.ends_with(".csv")) {
      format = "csv";
    } else {
      fail("--out {}: the table is written as .csv or .json; name the file accordingly", o.out);
    }
  }

  if (!o.npy.empty() && !o.npy.ends_with(".npy")) fail("--npy {}: name the file FILE.npy", o.npy);
  const HwSpec hw = build_hw(load_hw_base(o.hw), o.hw.sets);
  const LayerGraph g = load_model(o.model);
  const AnalyticalBackend backend;

  // reports[(w, a)] for the supported pairs.
  std::map<std::pair<int, int>, TimingReport> reports;
  for (int w : bits) {
    for (int a : bits) {
      if (effective_width(hw.pe, w) == 0 || effective_width(hw.pe, a) == 0) continue;
      const std::vector<LayerPrecision> p(g.compute_layers().size(), LayerPrecision{w, a, false});
      reports.emplace(std::pair{w, a}, backend.run(g, std::span<const LayerPrecision>(p), hw));
    }
  }
  if (reports.empty())
    fail("--bits {}: the {} PE of {} runs none of these widths (pe.widths {})", fmt::join(bits, ","),
         pe_model_name(hw.pe.precision), hw.source, fmt::join(hw.pe.widths, ","));

  // The compute layers, by name, in the order of the first report.
  std::vector<std::string> layers;
  std::map<std::string, std::map<std::pair<int, int>, const LayerTiming*>> rows;
  for (const auto& [wa, r] : reports) {
    for (const LayerTiming& l : r.layers) {
      if (!l.is_compute) continue;
      auto& by_width = rows[l.name];
      if (by_width.empty() && wa == reports.begin()->first) layers.push_back(l.name);
      by_width[wa] = &l;
    }
  }
  const auto cell = [&](const std::string& layer, int w, int a) {
    Cell c;
    c.run_wbits = effective_width(hw.pe, w);
    c.run_abits = effective_width(hw.pe, a);
    const auto& by_width = rows.at(layer);
    if (const auto it = by_width.find({w, a}); it != by_width.end()) {
      c.supported = true;
      c.row = it->second;
    }
    return c;
  };
  std::string text;
  if (format == "csv") {
    text =
        "layer,op,M,N,K,repeats,wbits,abits,supported,run_wbits,run_abits,folds,compute_cycles,stall_cycles,"
        "total_cycles,latency_ms,energy_pj\n";
    for (const std::string& name : layers) {
      const LayerTiming& any = *rows.at(name).begin()->second;
      for (int w : bits) {
        for (int a : bits) {
          const Cell c = cell(name, w, a);
          text += fmt::format("{},{},{},{},{},{},{},{},", csv_field(name), csv_field(any.op), any.gemm.M, any.gemm.N,
                              any.gemm.K, any.gemm.repeats, w, a);
          if (!c.supported) {
            text += "0,,,,,,,,\n";
            continue;
          }
          const LayerTiming& l = *c.row;
          text += fmt::format("1,{},{},{},{},{},{},{},{}\n", c.run_wbits, c.run_abits, l.folds, l.compute_cycles,
                              l.stall_cycles, l.total_cycles,
                              static_cast<double>(l.total_cycles) / (hw.array.clock_mhz * 1e3), l.energy_pj());
        }
      }
    }
  } else {
    nlohmann::json j;
    j["format"] = "qsim-latency-lut";
    j["version"] = 1;
    j["model"] = g.name;
    j["hw"] = hw.name;
    j["clock_mhz"] = hw.array.clock_mhz;
    j["bits"] = bits;
    j["layers"] = layers;
    nlohmann::json lut = nlohmann::json::object();
    for (const std::string& name : layers) {
      nlohmann::json by_w = nlohmann::json::object();
      for (int w : bits) {
        nlohmann::json by_a = nlohmann::json::object();
        for (int a : bits) {
          const Cell c = cell(name, w, a);
          if (!c.supported) {
            by_a[std::to_string(a)] = nullptr;
            continue;
          }
          const LayerTiming& l = *c.row;
          by_a[std::to_string(a)] = {{"run_wbits", c.run_wbits},
                                     {"run_abits", c.run_abits},
                                     {"folds", l.folds},
                                     {"compute_cycles", l.compute_cycles},
                                     {"stall_cycles", l.stall_cycles},
                                     {"total_cycles", l.total_cycles},
                                     {"latency_ms", static_cast<double>(l.total_cycles) / (hw.array.clock_mhz * 1e3)},
                                     {"energy_pj", l.energy_pj()}};
        }
        by_w[std::to_string(w)] = std::move(by_a);
      }
      lut[name] = std::move(by_w);
    }
    j["lut"] = std::move(lut);
    text = j.dump(2) + "\n";
  }

  if (!o.npy.empty()) {
    // NumPy arrays [layer][wbits][abits] (float64; NaN where the PE cannot run the
    // pair): total cycles in FILE.npy, energy in FILE.energy_pj.npy.
    const Shape shape{static_cast<int64_t>(layers.size()), static_cast<int64_t>(bits.size()),
                      static_cast<int64_t>(bits.size())};
    std::vector<double> cycles, energy;
    for (const std::string& name : layers)
      for (int w : bits)
        for (int a : bits) {
          const Cell c = cell(name, w, a);
          cycles.push_back(c.supported ? static_cast<double>(c.row->total_cycles) : std::nan(""));
          energy.push_back(c.supported ? c.row->energy_pj() : std::nan(""));
        }
    out.set(o.npy, npy_bytes(Tensor::from(shape, cycles)));
    out.set(npy_energy, npy_bytes(Tensor::from(shape, energy)));
  }
  if (o.out.empty()) {
    out.commit();
    std::cout << text;
  } else {
    out.set(o.out, std::move(text));
    out.commit();
    std::cerr << fmt::format("qsim lut: {} layers x {} x {} widths ({} pairs supported) -> {}\n", layers.size(),
                             bits.size(), bits.size(), reports.size(), o.out);
  }
  return 0;
}

}  // namespace qsim::app
