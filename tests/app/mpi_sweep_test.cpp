// mpirun -n 3 qsim sweep: the grid sharded over ranks and gathered on rank 0 gives
// the single-process CSV, row for row (here even in the same order).
#include <unistd.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/app/cli_test_util.h"

namespace qsim::test {
namespace {

const std::string kSrc = QSIM_SOURCE_DIR;

std::vector<std::string> sorted_lines(const std::string& text) {
  std::vector<std::string> v;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) v.push_back(l);
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<std::string> sweep_args(const TempDir& tmp, const std::string& out) {
  return {"sweep", "--hw", kSrc + "/configs/eyeriss.yaml", "--model", kSrc + "/models/fmnist_resnet.onnx",
          "--set", "array.rows=2,4,8,12,16", "--set", "array.cols=4,8,14", "--set", "memory.ifmap_kib=8,32",
          "--pareto", "latency_ms,pes", "--out", (tmp / out).string(), "--threads", "1"};
}

TEST(MpiSweep, ThreeRanksGatherTheSingleProcessCsv) {
  TempDir tmp;
  const RunResult one = run_qsim(sweep_args(tmp, "one.csv"), tmp);
  ASSERT_EQ(one.exit_code, 0) << one.err;

  // qsim itself under mpirun: it execs qsim-mpi from its own directory.
  std::string cmd = fmt::format("{} {}--oversubscribe -n 3 {}", MPIEXEC, ::geteuid() == 0 ? "--allow-run-as-root " : "",
                                shell_quote(QSIM_BINARY));
  for (const std::string& a : sweep_args(tmp, "mpi.csv")) cmd += fmt::format(" {}", shell_quote(a));
  cmd += fmt::format(" > {} 2>&1", shell_quote((tmp / "mpirun.log").string()));
  ASSERT_EQ(std::system(cmd.c_str()), 0) << slurp(tmp / "mpirun.log");
  EXPECT_NE(slurp(tmp / "mpirun.log").find("30 points on 3 MPI ranks"), std::string::npos) << slurp(tmp / "mpirun.log");
  const std::string single = slurp(tmp / "one.csv");
  const std::string gathered = slurp(tmp / "mpi.csv");
  EXPECT_EQ(sorted_lines(gathered), sorted_lines(single));
  EXPECT_EQ(gathered, single);  // rank 0 writes the rows in grid order
}

TEST(MpiSweep, BadInputIsReportedOnceByRankZero) {
  TempDir tmp;
  auto args = sweep_args(tmp, "bad.csv");
  args.push_back("--set");
  args.push_back("array.dataflow=diagonal");
  std::string cmd = fmt::format("{} {}--oversubscribe -n 3 {}", MPIEXEC, ::geteuid() == 0 ? "--allow-run-as-root " : "",
                                shell_quote(QSIM_BINARY));
  for (const std::string& a : args) cmd += fmt::format(" {}", shell_quote(a));
  cmd += fmt::format(" > {} 2>&1", shell_quote((tmp / "mpirun.log").string()));
  EXPECT_NE(std::system(cmd.c_str()), 0);
  const std::string log = slurp(tmp / "mpirun.log");
  const auto first = log.find("array.dataflow");
  ASSERT_NE(first, std::string::npos) << log;
  EXPECT_EQ(log.find("qsim: error:", log.find("qsim: error:") + 1), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(tmp / "bad.csv"));
}

}  // namespace
}  // namespace qsim::test
