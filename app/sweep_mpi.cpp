// qsim-mpi sweep: the sweep's grid sharded over MPI ranks (Debian's OpenMPI).
//
// Every rank builds the same SweepPlan (the grid is deterministic, and each rank
// validates it, so bad input fails everywhere alike and only rank 0 reports it).
// Rank r simulates every size-th of the points to simulate (all, or those within
// --area-budget-kge), starting at the r-th, on its own threads (--threads,
// default every core of its machine divided among the ranks sharing it), then rank 0
// gathers (point, metrics) from every rank and writes the outputs exactly as a
// single-process sweep does (write_sweep_outputs): the same CSV, row for row.
//
// Built only when CMake finds MPI, into its own dynamically linked executable,
// because `qsim` is a static PIE and MPI cannot be linked statically; `qsim` runs
// this sibling when it finds itself started by an MPI launcher (app/exec_sibling.h).
#include <mpi.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <thread>

#include <fmt/format.h>

#include "app/sweep.h"
#include "graph/error.h"

namespace qsim::app {

namespace {

// Ranks on this machine (OpenMPI and MPICH/Slurm state it in the environment).
int local_ranks() {
  for (const char* v : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"})
    if (const char* s = std::getenv(v)) {
      const int n = std::atoi(s);
      if (n > 0) return n;
    }
  return 1;
}

int sweep_on_ranks(const SweepOptions& o, int rank, int size) {
  // Every rank checks the paths (read-only) and the plan, so bad input fails alike;
  // rank 0 writes.
  OutputFiles out = check_sweep_files(o);
  for (const std::string& c : o.pareto) (void)sweep_column(c, "--pareto");
  if (!o.best.empty()) (void)sweep_column(o.best, "--best");
  const SweepPlan plan(o);
  const std::size_t n = plan.size();
  const std::vector<std::size_t>& points = plan.points();  // within --area-budget-kge

  std::vector<std::size_t> mine;
  for (std::size_t i = static_cast<std::size_t>(rank); i < points.size(); i += static_cast<std::size_t>(size))
    mine.push_back(points[i]);
  const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
  std::size_t threads = o.threads > 0 ? static_cast<std::size_t>(o.threads)
                                      : std::max<std::size_t>(1, cores / static_cast<std::size_t>(local_ranks()));
  threads = std::max<std::size_t>(1, std::min(threads, mine.size()));

  // Each record: the point index, then its metrics (integers are exact in a double).
  constexpr std::size_t kRecord = 1 + kSweepMetricCount;
  std::vector<double> records(mine.size() * kRecord);
  std::atomic<std::size_t> next{0};
  std::string error;
  std::atomic<bool> failed{false};
  const auto work = [&] {
    for (std::size_t i; !failed && (i = next.fetch_add(1)) < mine.size();) {
      try {
        const SweepMetrics m = plan.evaluate(mine[i]);
        records[i * kRecord] = static_cast<double>(mine[i]);
        std::copy(m.begin(), m.end(), records.begin() + static_cast<std::ptrdiff_t>(i * kRecord + 1));
      } catch (const std::exception& e) {
        if (!failed.exchange(true)) error = e.what();
      }
    }
  };
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (failed) {
    std::cerr << "qsim: error: " << error << "\n";
    MPI_Abort(MPI_COMM_WORLD, 2);
  }

  const int count = static_cast<int>(records.size());
  std::vector<int> counts(static_cast<std::size_t>(size)), offsets(static_cast<std::size_t>(size));
  MPI_Gather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
  std::vector<double> all;
  if (rank == 0) {
    int total = 0;
    for (int r = 0; r < size; ++r) {
      offsets[static_cast<std::size_t>(r)] = total;
      total += counts[static_cast<std::size_t>(r)];
    }
    all.resize(static_cast<std::size_t>(total));
  }
  MPI_Gatherv(records.data(), count, MPI_DOUBLE, all.data(), counts.data(), offsets.data(), MPI_DOUBLE, 0,
              MPI_COMM_WORLD);
  if (rank != 0) return 0;

  std::vector<SweepMetrics> results(n);
  std::vector<char> seen(n, 0);
  for (std::size_t i = 0; i + kRecord <= all.size(); i += kRecord) {
    const auto p = static_cast<std::size_t>(all[i]);
    std::copy(all.begin() + static_cast<std::ptrdiff_t>(i + 1), all.begin() + static_cast<std::ptrdiff_t>(i + kRecord),
              results[p].begin());
    seen[p] = 1;
  }
  if (std::count(seen.begin(), seen.end(), 1) != static_cast<std::ptrdiff_t>(points.size()))
    fail("sweep: the ranks returned {} of {} points", std::count(seen.begin(), seen.end(), 1), points.size());
  write_sweep_outputs(plan, o, results, fmt::format("{} MPI ranks", size), out);
  return 0;
}

}  // namespace

int run_sweep_mpi(const SweepOptions& o) {
  MPI_Init(nullptr, nullptr);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int rc = 0;
  try {
    rc = sweep_on_ranks(o, rank, size);
  } catch (const Error& e) {
    // Bad input fails on every rank alike: rank 0 says so once.
    if (rank == 0) std::cerr << "qsim: error: " << e.what() << "\n";
    rc = 2;
  }
  MPI_Finalize();
  return rc;
}

}  // namespace qsim::app
