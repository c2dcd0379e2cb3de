// qsim export-scalesim: a SCALE-Sim v2 .cfg and topology CSV from a HwSpec and a
// model, so a qsim result can be re-run in SCALE-Sim.
//
// Topology: one conv-form row per compute layer, such that SCALE-Sim's GEMM view
// (its valid, unpadded convolution) equals qsim's: padding is folded into the IFMAP
// size, trimmed to the rows and columns the strides actually read (SCALE-Sim
// rounds its output size up, ONNX down); a depthwise layer gets "DP" in its name
// (SCALE-Sim's marker) and Num Filter = the channel multiplier; a Gemm/MatMul of
// M x K by K x N is a 1x1 convolution over an M x 1 map with K channels and N
// filters (one row per repeat). What SCALE-Sim cannot state is refused naming the
// layer (dilated kernels, grouped but not depthwise convolutions, unequal strides).
//
// Config: the array, dataflow and SRAM sizes as they are; DRAM bandwidth as CALC
// (unlimited) or USER with memory.dram_bytes_per_cycle. SCALE-Sim models 8-bit
// fixed MACs, no clock, no energy and no DRAM latency: what the HwSpec states
// beyond that is listed on stderr as not exported.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "app/cmd_simulate.h"
#include "app/commands.h"
#include "app/output_paths.h"
#include "graph/error.h"

namespace qsim::app {

namespace {

std::string topology_name(std::string name) {
  for (char& c : name)
    if (c == ',' || c == '\n' || c == '\r' || c == ' ') c = '_';
  return name;
}

std::string topology_csv(const LayerGraph& g) {
  std::string out =
      "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n";
  for (const NodeId id : g.compute_layers()) {
    const Node& n = g.node(id);
    const std::string name = topology_name(n.name);
    if (n.op == OpKind::kConv) {
      const auto& a = std::get<ConvAttrs>(n.attrs);
      const Shape& x = g.value(n.inputs[0]).shape;
      const Shape& y = g.value(n.outputs[0]).shape;
      if (a.kernel.size() != 2 || x.size() != 4)
        fail("layer '{}': only 2-D convolutions have a SCALE-Sim topology row", n.name);
      if (x[0] != 1) fail("layer '{}': batch {}; SCALE-Sim topologies are batch 1", n.name, x[0]);
      if (a.dilations[0] != 1 || a.dilations[1] != 1)
        fail("layer '{}': dilation {}x{} has no SCALE-Sim topology form", n.name, a.dilations[0], a.dilations[1]);
      if (a.strides[0] != a.strides[1])
        fail("layer '{}': strides {}x{}; a SCALE-Sim v2 topology has one stride", n.name, a.strides[0], a.strides[1]);
      const int64_t c = x[1], cout = y[1];
      const bool depthwise = a.group > 1 && a.group == c;
      if (a.group > 1 && !depthwise)
        fail("layer '{}': {} groups of {} channels; SCALE-Sim has only dense and depthwise convolutions", n.name,
             a.group, c / a.group);
      // The input rows/columns the kernel reads: (E - 1) * S + F, padding included.
      const int64_t h = (y[2] - 1) * a.strides[0] + a.kernel[0];
      const int64_t w = (y[3] - 1) * a.strides[1] + a.kernel[1];
      const std::string row_name =
          depthwise && name.find("DP") == std::string::npos ? name + "_DP" : name;
      out += fmt::format("{}, {}, {}, {}, {}, {}, {}, {},\n", row_name, h, w, a.kernel[0], a.kernel[1], c,
                         depthwise ? cout / c : cout, a.strides[0]);
    } else {
      const GemmView v = g.stats(id).gemm;
      for (int64_t r = 0; r < v.repeats; ++r) {
        const std::string row_name = v.repeats > 1 ? fmt::format("{}_r{}", name, r) : name;
        out += fmt::format("{}, {}, 1, 1, 1, {}, {}, 1,\n", row_name, v.M, v.K, v.N);
      }
    }
  }
  return out;
}

int64_t whole_kib(double kib, const char* key) {
  if (kib != std::floor(kib) || kib < 1)
    fail("{} {}: SCALE-Sim takes SRAM sizes in whole kB; set a whole number with --set {}=N", key, kib, key);
  return static_cast<int64_t>(kib);
}

}  // namespace

int run_export_scalesim(const ExportScaleSimOptions& o) {
  if (o.out_dir.empty()) fail("--out-dir: give the directory to write the .cfg and topology CSV into");
  // The file names follow the run name (by default the config's and the model's names).
  OutputFiles out = timing_inputs(o.hw, o.model, {}).output_tree("--out-dir", o.out_dir).check();
  const HwSpec hw = build_hw(load_hw_base(o.hw), o.hw.sets);
  const LayerGraph g = load_model(o.model);
  // The run name is also the files' stem: a '/' in it (a config named a/b) would make
  // a folder, so it becomes '_'; --name must be a stem.
  if (!o.name.empty() && (o.name.find('/') != std::string::npos || o.name == "." || o.name == ".."))
    fail("--name {}: a file stem for NAME.cfg and NAME.csv (no '/')", o.name);
  std::string run_name = topology_name(o.name.empty() ? hw.name + "_" + g.name : o.name);
  std::replace(run_name.begin(), run_name.end(), '/', '_');
  const std::filesystem::path dir(o.out_dir);
  const std::string topo_path = (dir / (run_name + ".csv")).string();
  const std::string cfg_path = (dir / (run_name + ".cfg")).string();

  std::string cfg = "[general]\n";
  cfg += fmt::format("run_name = {}\n\n[architecture_presets]\n", run_name);
  cfg += fmt::format("ArrayHeight : {}\nArrayWidth : {}\n", hw.array.rows, hw.array.cols);
  cfg += fmt::format("IfmapSramSzkB : {}\nFilterSramSzkB : {}\nOfmapSramSzkB : {}\n",
                     whole_kib(hw.memory.ifmap_kib, "memory.ifmap_kib"),
                     whole_kib(hw.memory.filter_kib, "memory.filter_kib"),
                     whole_kib(hw.memory.ofmap_kib, "memory.ofmap_kib"));
  cfg += "IfmapOffset : 0\nFilterOffset : 10000000\nOfmapOffset : 20000000\n";
  std::vector<std::string> not_exported;
  if (hw.memory.dram_unlimited) {
    cfg += "Bandwidth : 10\n";
  } else {
    const double bw = hw.memory.dram_bytes_per_cycle;
    if (bw != std::floor(bw) || bw < 1)
      fail("memory.dram_bytes_per_cycle {}: SCALE-Sim's USER bandwidth is whole words per cycle", bw);
    cfg += fmt::format("Bandwidth : {}\n", static_cast<int64_t>(bw));
  }
  cfg += fmt::format("Dataflow : {}\nMemoryBanks : 1\n\n[run_presets]\nInterfaceBandwidth : {}\n\n",
                     dataflow_name(hw.array.dataflow), hw.memory.dram_unlimited ? "CALC" : "USER");
  cfg += fmt::format("[network_presets]\nTopologyCsvLoc = \"{}\"\n", topo_path);

  if (hw.pe.precision != PeModel::kFixed || hw.pe.base_bits != 8)
    not_exported.push_back(fmt::format("pe.precision {} / pe.base_bits {} (SCALE-Sim: 8-bit fixed MACs)",
                                       pe_model_name(hw.pe.precision), hw.pe.base_bits));
  if (hw.memory.dram_latency_cycles != 0)
    not_exported.push_back(fmt::format("memory.dram_latency_cycles {}", hw.memory.dram_latency_cycles));
  if (!hw.memory.double_buffer) not_exported.push_back("memory.double_buffer false");
  if (hw.memory.word_bits != 8) not_exported.push_back(fmt::format("memory.word_bits {}", hw.memory.word_bits));
  if (hw.memory.banks != 1) not_exported.push_back(fmt::format("memory.banks {}", hw.memory.banks));
  if (hw.mapping.chunking) not_exported.push_back("mapping.chunking true");
  not_exported.push_back(fmt::format("array.clock_mhz {} and the energy table (SCALE-Sim has neither)",
                                     hw.array.clock_mhz));

  out.set_in(o.out_dir, run_name + ".cfg", cfg);
  out.set_in(o.out_dir, run_name + ".csv", topology_csv(g));
  out.commit();
  std::cout << fmt::format("wrote {} and {} ({} compute layers)\n", cfg_path, topo_path, g.compute_layers().size());
  std::cout << fmt::format("re-run in SCALE-Sim v2: python3 scalesim/scale.py -c {} -t {} -p OUTDIR\n", cfg_path,
                           topo_path);
  for (const std::string& s : not_exported) std::cerr << "qsim export-scalesim: not exported: " << s << "\n";
  return 0;
}

}  // namespace qsim::app
