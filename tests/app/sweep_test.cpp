// qsim sweep's answers and its resumability, through the real binary: derived
// columns, --pareto, --best, result provenance, the journal surviving SIGKILL, the
// size limit and the progress line.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "app/report.h"
#include "app/sweep.h"
#include "tests/app/cli_test_util.h"

namespace qsim::test {
namespace {

const std::string kTopo = data_dir() + "tiny.csv";
const std::string kCfg = data_dir() + "array8_calc.cfg";
const std::string kEyeriss = std::string(QSIM_SOURCE_DIR) + "/configs/eyeriss.yaml";
const std::string kResnet = std::string(QSIM_SOURCE_DIR) + "/models/fmnist_resnet.onnx";

std::size_t column(const std::vector<std::string>& header, const std::string& name) {
  for (std::size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return i;
  ADD_FAILURE() << "no column " << name;
  return 0;
}

TEST(SweepColumns, PesSramAndEnergySplit) {
  TempDir tmp;
  const RunResult r = run_qsim({"sweep", "--topology", kTopo, "--hw", kEyeriss, "--set", "array.rows=4,8", "--set",
                                "memory.ifmap_kib=16,32", "--out", (tmp / "s.csv").string()},
                               tmp);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rows = read_rows(tmp / "s.csv");
  ASSERT_EQ(rows.size(), 5u);
  const auto& h = rows[0];
  const std::size_t cols = std::stoul(rows[1][column(h, "pes")]) / 4;  // eyeriss: array.cols
  EXPECT_GT(cols, 0u);
  EXPECT_EQ(std::stoul(rows[3][column(h, "pes")]), 8 * cols);
  // total SRAM moves with ifmap_kib by exactly the step.
  EXPECT_DOUBLE_EQ(std::stod(rows[2][column(h, "total_sram_kib")]) - std::stod(rows[1][column(h, "total_sram_kib")]),
                   16.0);
  for (std::size_t i = 1; i < rows.size(); ++i) {
    const double parts = std::stod(rows[i][column(h, "energy_mac_uj")]) +
                         std::stod(rows[i][column(h, "energy_sram_uj")]) +
                         std::stod(rows[i][column(h, "energy_dram_uj")]) +
                         std::stod(rows[i][column(h, "energy_vector_uj")]);
    EXPECT_NEAR(parts, std::stod(rows[i][column(h, "energy_uj")]), 1e-9 * parts);
    EXPECT_GT(std::stod(rows[i][column(h, "energy_mac_uj")]), 0);
  }
}

// --pareto marks exactly the points no other point beats (checked by brute force);
// --best names the arg-min.
TEST(SweepAnswers, ParetoAndBest) {
  TempDir tmp;
  const RunResult r = run_qsim({"sweep", "--model", kResnet, "--hw", kEyeriss, "--set", "array.rows=4,8,16,32",
                                "--set", "memory.ifmap_kib=4,16,64", "--set", "memory.filter_kib=8,64", "--pareto",
                                "latency_ms,pes", "--best", "latency_ms", "--out",
                                (tmp / "s.csv").string()},
                               tmp);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rows = read_rows(tmp / "s.csv");
  ASSERT_EQ(rows.size(), 25u);
  const auto& h = rows[0];
  const std::size_t lat = column(h, "latency_ms"), sram = column(h, "pes"), par = column(h, "pareto");
  std::size_t front = 0, best = 1;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    bool dominated = false;
    for (std::size_t j = 1; j < rows.size(); ++j) {
      const double li = std::stod(rows[i][lat]), lj = std::stod(rows[j][lat]);
      const double si = std::stod(rows[i][sram]), sj = std::stod(rows[j][sram]);
      dominated = dominated || (lj <= li && sj <= si && (lj < li || sj < si));
    }
    EXPECT_EQ(rows[i][par], dominated ? "0" : "1") << "row " << i;
    front += dominated ? 0 : 1;
    if (std::stod(rows[i][lat]) < std::stod(rows[best][lat])) best = i;
  }
  EXPECT_GE(front, 2u);  // a real trade-off, not one winner
  EXPECT_NE(r.out.find(fmt::format("best latency_ms (point {} of 24)", best)), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(fmt::format("pareto front over latency_ms, pes: {} of 24 points", front)),
            std::string::npos)
      << r.out;
  // On screen the numbers are rounded (4 significant digits); the CSV keeps them all.
  const std::string exact = rows[best][lat];
  EXPECT_GT(exact.size(), 6u) << exact;
  EXPECT_NE(r.out.find(fmt::format(" {} ", app::format_rounded(std::stod(exact)))), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(exact), std::string::npos) << r.out;
}

TEST(SweepAnswers, BadColumnIsBadInput) {
  TempDir tmp;
  for (const std::vector<std::string>& flag : {std::vector<std::string>{"--pareto", "latency_ms,area"},
                                               std::vector<std::string>{"--best", "speed"}}) {
    std::vector<std::string> args = {"sweep", "--topology", kTopo, "--hw", kEyeriss, "--set", "array.rows=4,8",
                                     "--out", (tmp / "s.csv").string()};
    args.insert(args.end(), flag.begin(), flag.end());
    const RunResult r = run_qsim(args, tmp);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find(flag[0] + " "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("not a sweep column"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty());
    EXPECT_TRUE(tmp.entries().empty());
  }
}

TEST(Rounding, SignificantDigitsWithoutExponent) {
  EXPECT_EQ(app::format_rounded(62175.494005479944), "62175");
  EXPECT_EQ(app::format_rounded(0.0123456), "0.01235");
  EXPECT_EQ(app::format_rounded(1.5), "1.500");
  EXPECT_EQ(app::format_rounded(0), "0");
  EXPECT_EQ(app::format_rounded(-2.71828, 3), "-2.72");
}

TEST(ParetoFront, TiesAndDuplicatesStay) {
  std::vector<app::SweepMetrics> rows(4);
  rows[0][0] = 1, rows[0][1] = 4;
  rows[1][0] = 2, rows[1][1] = 2;
  rows[2][0] = 2, rows[2][1] = 2;  // equal to 1: neither dominates
  rows[3][0] = 3, rows[3][1] = 3;  // dominated by 1
  const std::size_t cols[] = {0, 1};
  EXPECT_EQ(app::pareto_front(rows, cols), (std::vector<bool>{true, true, true, false}));
}

TEST(Provenance, SimulateJsonRecordsHwModelCommandVersion) {
  TempDir tmp;
  const RunResult r = run_qsim({"--hw", kEyeriss, "--model", kResnet, "--set", "array.rows=7", "--json",
                                (tmp / "r.json").string()},
                               tmp);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("energy split: MAC "), std::string::npos) << r.out;
  const auto j = nlohmann::json::parse(slurp(tmp / "r.json"));
  const auto& p = j.at("provenance");
  EXPECT_FALSE(p.at("qsim_version").get<std::string>().empty());
  EXPECT_EQ(p.at("command_line").back(), (tmp / "r.json").string());
  EXPECT_EQ(p.at("hw").at("keys").at("array.rows"), 7);  // the value in effect, after --set
  EXPECT_EQ(p.at("hw").at("sets").at(0), "array.rows=7");
  // The hash equals coreutils' sha256sum of the file.
  const fs::path sum = tmp / "sum.txt";
  ASSERT_EQ(std::system(fmt::format("sha256sum {} > {}", shell_quote(kResnet), shell_quote(sum.string())).c_str()), 0);
  EXPECT_EQ(p.at("model").at("sha256"), slurp(sum).substr(0, 64));
  EXPECT_EQ(p.at("model").at("path"), kResnet);
}

// ---- resumable sweeps ----

// A sweep long enough to kill mid-run: 1,296 points of the bundled ResNet, one thread.
std::vector<std::string> long_sweep(const TempDir& tmp, const std::string& out) {
  return {"sweep", "--model", kResnet, "--hw", kEyeriss, "--threads", "1",
          "--set", "array.rows=2,3,4,5,6,7,8,9,10,11,12,16", "--set", "array.cols=2,3,4,5,6,8,10,12,14,16,20,24",
          "--set", "memory.ifmap_kib=8,16,32", "--set", "memory.filter_kib=8,16,32",
          "--out", (tmp / out).string()};
}

std::size_t count_lines(const fs::path& p) {
  const std::string s = slurp(p);
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

// Starts qsim with `args`, SIGKILLs it once its journal holds `lines` lines (header
// included; 0: right after start). Returns false if it finished first.
bool kill_when(const std::vector<std::string>& args, const fs::path& journal, std::size_t lines) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> argv;
    std::string bin = QSIM_BINARY;
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (!std::freopen("/dev/null", "w", stderr) || !std::freopen("/dev/null", "w", stdout)) ::_exit(127);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  bool killed = false;
  for (int i = 0; i < 200000; ++i) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return false;
    if (lines == 0 || (fs::exists(journal) && count_lines(journal) >= lines)) {
      ::kill(pid, SIGKILL);
      killed = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return killed && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

TEST(SweepJournal, KilledRepeatedlyEndsWithExactlyTheFullSet) {
  TempDir tmp;
  const RunResult ref = run_qsim([&] {
    auto a = long_sweep(tmp, "ref.csv");
    a.push_back("--no-journal");
    return a;
  }(), tmp);
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  EXPECT_FALSE(fs::exists(tmp / "ref.csv.journal"));
  const std::string expected = slurp(tmp / "ref.csv");
  ASSERT_EQ(count_lines(tmp / "ref.csv"), 1297u);

  const auto args = long_sweep(tmp, "s.csv");
  const fs::path journal = tmp / "s.csv.journal";
  // Killed right at start, then at about 10%, 40% and 70% of the points.
  ASSERT_TRUE(kill_when(args, journal, 0));
  for (std::size_t lines : {130u, 520u, 910u}) {
    ASSERT_TRUE(kill_when(args, journal, lines)) << "finished before " << lines << " journal lines";
    EXPECT_FALSE(fs::exists(tmp / "s.csv"));
    const std::size_t now = count_lines(journal);
    EXPECT_GE(now, lines);
    EXPECT_LT(now, 1297u);
  }
  // A torn line, as a kill inside write(2) could leave, is dropped.
  {
    std::ofstream j(journal, std::ios::app);
    j << "77 123";
  }
  const RunResult last = run_qsim(args, tmp);
  ASSERT_EQ(last.exit_code, 0) << last.err;
  EXPECT_NE(last.err.find("resuming"), std::string::npos) << last.err;
  EXPECT_EQ(slurp(tmp / "s.csv"), expected);  // none lost, none duplicated, same digits
  EXPECT_FALSE(fs::exists(journal));
}

TEST(SweepJournal, ForeignOrMalformedJournalIsRefused) {
  TempDir tmp;
  const auto args = std::vector<std::string>{"sweep", "--topology", kTopo, "--hw", kEyeriss, "--set",
                                             "array.rows=4,8", "--out", (tmp / "s.csv").string()};
  write_text(tmp / "s.csv.journal", "qsim-sweep-journal 1 0000 2\n0 1 2 3\n");
  RunResult r = run_qsim(args, tmp);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("s.csv.journal: the journal of a different sweep"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp / "s.csv"));

  // The right header (a killed run's) but a garbled complete line: named by line.
  const auto long_args = long_sweep(tmp, "l.csv");
  const fs::path journal = tmp / "l.csv.journal";
  ASSERT_TRUE(kill_when(long_args, journal, 4));
  const std::string text = slurp(journal);
  const std::size_t second = text.find('\n') + 1;
  write_text(journal, text.substr(0, second) + "0 x y\n" + text.substr(second));
  r = run_qsim(long_args, tmp);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("l.csv.journal:2: malformed journal line"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp / "l.csv"));
}

TEST(SweepLimits, BigGridAsksForYesWithAnEstimate) {
  TempDir tmp;
  std::string rows = "array.rows=", cols = "memory.ifmap_kib=";
  for (int i = 1; i <= 400; ++i) rows += fmt::format("{}{}", i > 1 ? "," : "", i + 3);
  for (int i = 1; i <= 251; ++i) cols += fmt::format("{}{}", i > 1 ? "," : "", i + 15);
  const RunResult r = run_qsim({"sweep", "--topology", kTopo, "--hw", kEyeriss, "--set", rows, "--set", cols,
                                "--out", (tmp / "s.csv").string()},
                               tmp);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("the grid has 100400 points to simulate, estimated "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("add --yes"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
  EXPECT_TRUE(tmp.entries().empty());  // neither the CSV nor a journal
}

TEST(SweepProgress, LineOnATerminalOnly) {
  TempDir tmp;
  // script(1) gives qsim a pseudo-terminal for stdout and stderr.
  std::string cmd = shell_quote(QSIM_BINARY);
  for (const auto& a : long_sweep(tmp, "s.csv")) cmd += fmt::format(" {}", shell_quote(a));
  const fs::path log = tmp / "tty.log";
  const std::string wrapped =
      fmt::format("script -qefc {} /dev/null > {}", shell_quote(cmd), shell_quote(log.string()));
  ASSERT_EQ(std::system(wrapped.c_str()), 0);
  const std::string seen = slurp(log);
  EXPECT_NE(seen.find("qsim sweep: 1296/1296 points, "), std::string::npos) << seen;
  EXPECT_NE(seen.find("/s, ETA "), std::string::npos) << seen;
  // Not a terminal: no progress line.
  const RunResult r = run_qsim(long_sweep(tmp, "t.csv"), tmp);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("ETA"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace qsim::test
