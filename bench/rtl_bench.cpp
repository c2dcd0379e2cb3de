// Simulated cycles per second of the verilated RTL array against the SystemC
// model's array (SystolicCore, the state machine the SystemC module clocks) on the
// same tile vectors (docs/rtl.md, "Speed"). Both run the tiles with their real
// operands (value mode); the SystemC array once cycle by cycle and once with its
// fast-forward of steady streams.
//
// The 4x4 model (16-bit accumulators) is measured too: `qsim --backend rtl`
// estimates its run time from these figures (RtlBackend::cycles_per_second).
//
//   build/bench/rtl_bench [TILES]        (default 256 tiles per array size)
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "sim/rtl/rtl_array.h"
#include "sim/systolic/tile_vectors.h"

namespace {

using qsim::TileVector;

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

struct Timed {
  double wall = 0, cpu = 0;
  int64_t cycles = 0;
};

template <class F>
Timed timed(F&& f) {
  const auto w0 = std::chrono::steady_clock::now();
  const double c0 = cpu_seconds();
  Timed t;
  t.cycles = f();
  t.cpu = cpu_seconds() - c0;
  t.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
  return t;
}

int64_t run_systemc(const std::vector<TileVector>& tiles, bool fast_forward) {
  int64_t cycles = 0;
  qsim::SystolicCore core;
  for (const TileVector& t : tiles) {
    core.configure({t.dataflow, t.rows, t.cols, t.pe});
    std::vector<int64_t> y = t.y;
    const qsim::GemmOperands ops{t.a.data(), t.K, t.b.data(), t.N, y.data(), t.N};
    core.begin_fold(t.fold, &ops);
    while (!core.done()) {
      if (fast_forward)
        if (const int64_t n = core.steady_run(); n > 0) {
          core.fast_forward(n);
          continue;
        }
      core.step();
    }
    cycles += core.fold_cycles();
  }
  return cycles;
}

int64_t run_rtl(qsim::RtlArray& rtl, const std::vector<TileVector>& tiles) {
  std::vector<std::vector<int64_t>> ys(tiles.size());
  std::vector<qsim::GemmOperands> ops(tiles.size());
  std::vector<qsim::RtlFold> folds(tiles.size());
  for (std::size_t i = 0; i < tiles.size(); ++i) {
    const TileVector& t = tiles[i];
    ys[i] = t.y;
    ops[i] = {t.a.data(), t.K, t.b.data(), t.N, ys[i].data(), t.N};
    folds[i] = {t.dataflow, t.rows, t.cols, t.pe, t.fold, &ops[i]};
  }
  return rtl.run(folds).clock_cycles;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t count = argc > 1 ? std::atoll(argv[1]) : 256;
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) < 0) load[0] = -1;
  std::printf("load average %.2f (figures under load are indicative)\n", load[0]);
  std::printf("%-10s %-22s %12s %10s %10s %14s\n", "array", "simulator", "cycles", "wall s", "cpu s", "cycles/s (cpu)");
  struct Model {
    const char* name;
    int64_t n;
    int acc_bits;
  };
  for (const Model& m : {Model{"4x4_a16", 4, 16}, Model{"8x8_a32", 8, 32}, Model{"16x16_a32", 16, 32}}) {
    const int64_t n = m.n;
    qsim::TileGenSpec spec;
    spec.max_rows = spec.max_cols = n;
    spec.acc_bits = m.acc_bits;
    spec.count = count;
    spec.max_steps = 400;  // long streams: the steady middle of a fold dominates, as in real layers
    spec.seed = 2018;
    std::vector<TileVector> tiles = qsim::generate_tiles(spec);
    for (TileVector& t : tiles) {  // the whole array, as a layer's full folds use it
      t.rows = t.cols = n;
    }
    auto rtl = qsim::make_rtl_array(m.name);
    const Timed r = timed([&] { return run_rtl(*rtl, tiles); });
    const Timed s = timed([&] { return run_systemc(tiles, false); });
    const Timed f = timed([&] { return run_systemc(tiles, true); });
    const std::string arr = std::to_string(n) + "x" + std::to_string(n);
    auto row = [&](const char* what, const Timed& t) {
      std::printf("%-10s %-22s %12lld %10.3f %10.3f %14.0f\n", arr.c_str(), what, static_cast<long long>(t.cycles),
                  t.wall, t.cpu, static_cast<double>(t.cycles) / t.cpu);
    };
    row("rtl (verilated)", r);
    row("systemc array, stepped", s);
    row("systemc array, ff", f);
    std::printf("%-10s rtl / systemc stepped: %.3fx   rtl / systemc ff: %.3fx (cycles per cpu second)\n", arr.c_str(),
                (static_cast<double>(r.cycles) / r.cpu) / (static_cast<double>(s.cycles) / s.cpu),
                (static_cast<double>(r.cycles) / r.cpu) / (static_cast<double>(f.cycles) / f.cpu));
  }
  return 0;
}
