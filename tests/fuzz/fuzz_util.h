// Shared by the libFuzzer targets in tests/fuzz/.
//
// Contract of every target: qsim::Error (bad input, reported on one line) is the
// expected outcome of hostile bytes; anything else is a bug that stops the
// fuzzer: a crash, a sanitizer report, another exception type (std::terminate
// aborts), a hang (-timeout), a huge allocation (-rss_limit_mb / -malloc_limit_mb).
// The memory limit of graph/limits.h is lowered so that a tensor the model asks
// for is refused by qsim's own check long before libFuzzer's malloc limit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <algorithm>

#include "graph/error.h"
#include "graph/file_util.h"
#include "graph/limits.h"

namespace qsim::fuzz {

// qsim's memory limit inside the fuzzers (libFuzzer's malloc limit is -rss_limit_mb, 2 GB by default).
inline constexpr int64_t kFuzzMemLimit = int64_t{256} << 20;

inline void init() { set_memory_limit(kFuzzMemLimit); }

// An invariant that must hold on every input a reader accepted; aborts (a bug) otherwise.
[[noreturn]] inline void invariant_failed(const char* what, const std::string& detail) {
  std::fprintf(stderr, "qsim fuzz invariant broken: %s: %s\n", what, detail.c_str());
  std::abort();
}

// Every message must stay one line (the CLI prints it as `qsim: error: <message>`).
inline void check_message(const Error& e) {
  const std::string_view m = e.what();
  if (m.empty()) invariant_failed("empty error message", "");
  if (m.find('\n') != std::string_view::npos || m.find('\r') != std::string_view::npos)
    invariant_failed("error message spans several lines", std::string(m));
}

// A file shipped in the source tree (configs, fixtures), read once at start-up.
inline std::string source_file(const char* rel) { return read_file(std::string(QSIM_SOURCE_DIR) + "/" + rel); }

}  // namespace qsim::fuzz

// Each target defines these two; fuzz_driver.cpp defines libFuzzer's entry
// points around them (qsim::Error is swallowed after its message is checked,
// everything else escapes and is reported by libFuzzer).
void fuzz_init();                       // once, before the first input
void fuzz_one(std::string_view bytes);  // one input

#include <span>
#include <vector>

#include "graph/layer_graph.h"
#include "graph/precision_alloc.h"
#include "sim/analytical/analytical_backend.h"
#include "sim/hw_spec.h"

namespace qsim::fuzz {

// Everything the timing commands compute from an imported graph: per-layer
// stats, totals, and the analytical backend at 8x8 bits with its report totals.
inline void exercise_graph(const LayerGraph& g, std::span<const HwSpec> specs) {
  for (NodeId n : g.compute_layers()) (void)g.stats(n);
  (void)g.total_macs();
  (void)g.total_params();
  const std::vector<LayerPrecision> p(g.compute_layers().size(), LayerPrecision{8, 8, false});
  const AnalyticalBackend backend;
  for (const HwSpec& hw : specs) {
    const TimingReport r = backend.run(g, std::span<const LayerPrecision>(p), hw);
    (void)r.total_cycles();
    (void)r.sram_bytes();
    (void)r.dram_bytes();
    (void)r.energy_pj();
  }
}

}  // namespace qsim::fuzz
