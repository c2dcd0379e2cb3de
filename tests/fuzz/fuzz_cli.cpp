// The qsim command line itself: argument vectors built from the real option set,
// run in-process through qsim::app::run_cli (app/cli.h) in a scratch folder of
// small, valid files of every kind.
//
// The input bytes are a program: each byte picks a token from the vocabulary (the
// command names and every option the binary's own --help lists, set up once at
// start, plus the fixture paths and the numbers, lists and keys users mistype), or,
// for byte 255, a free string that follows (length byte, then bytes; '/' becomes
// '_', so nothing is ever named outside the scratch folder).
//
// Beyond libFuzzer's own checks (crashes, sanitizer reports, leaks, hangs) every
// run must keep the CLI's contract; a violation aborts:
//   - run_cli returns 0, 1 or 2 and throws nothing;
//   - exit 2: exactly one line on stderr, "qsim: error: ...", never "internal error",
//     nothing on stdout, and no file created, changed or removed;
//   - any exit: every fixture (every input) byte-identical, no temporary file left.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "app/cli.h"
#include "data/npy.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/test_bytes.h"

namespace {

namespace fs = std::filesystem;

fs::path g_root;                               // removed and re-made for nothing; only cleaned
fs::path g_work;                               // the scratch folder, the current directory
std::map<std::string, std::string> g_fixtures;  // path (relative to g_work) -> bytes
std::vector<std::string> g_vocab;

void put(const std::string& rel, const std::string& bytes) {
  const fs::path p = g_work / rel;
  fs::create_directories(p.parent_path());
  qsim::write_file_atomic(p.string(), bytes);
  g_fixtures[rel] = bytes;
}

// Captured std::cout / std::cerr of one run.
struct Capture {
  std::ostringstream out, err;
  std::streambuf* old_out;
  std::streambuf* old_err;
  Capture() : old_out(std::cout.rdbuf(out.rdbuf())), old_err(std::cerr.rdbuf(err.rdbuf())) {}
  ~Capture() {
    std::cout.rdbuf(old_out);
    std::cerr.rdbuf(old_err);
  }
};

int run(const std::vector<std::string>& args, std::string* out = nullptr, std::string* err = nullptr) {
  std::vector<const char*> argv{"qsim"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  qsim::set_memory_limit(qsim::fuzz::kFuzzMemLimit);  // --mem-limit of the last run must not stay
  int rc = 0;
  {
    Capture c;
    rc = qsim::app::run_cli(static_cast<int>(argv.size() - 1), argv.data());
    std::cout.flush();
    if (out) *out = c.out.str();
    if (err) *err = c.err.str();
  }
  return rc;
}

// Every file and folder under g_root (relative), with the bytes of the files.
std::map<std::string, std::string> snapshot() {
  std::map<std::string, std::string> s;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(g_root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    const std::string rel = fs::relative(it->path(), g_root).string();
    if (it->is_symlink(ec)) {
      s[rel] = "<link>";
    } else if (it->is_regular_file(ec)) {
      s[rel] = qsim::read_file(it->path().string());
    } else {
      s[rel] = "<dir>";
    }
  }
  return s;
}

std::map<std::string, std::string> g_clean;  // the snapshot with the fixtures only

// "" (the top level, whose --help lists the main job's options) and every command.
std::vector<std::string> cat_empty(const std::vector<std::string>& commands) {
  std::vector<std::string> all{""};
  all.insert(all.end(), commands.begin(), commands.end());
  return all;
}

void restore() {
  std::error_code ec;
  for (const auto& [rel, bytes] : snapshot())
    if (!g_clean.count(rel)) fs::remove_all(g_root / rel, ec);
}

}  // namespace

void fuzz_init() {
  g_root = fs::temp_directory_path() / ("qsim_fuzz_cli_" + std::to_string(::getpid()));
  fs::remove_all(g_root);
  g_work = g_root / "a" / "work";  // two levels down: "..", "../.." stay inside g_root
  fs::create_directories(g_work);
  fs::current_path(g_work);  // the set-up runs below name their files relative to it
  // Gone when the fuzzer exits normally (corpus replay, time limit); a crash leaves it to look at.
  std::atexit([] {
    std::error_code ec;
    fs::current_path(fs::temp_directory_path(), ec);
    fs::remove_all(g_root, ec);
  });

  // A small Fashion-MNIST classifier and four samples of every data form.
  put("m.onnx", qsim::fuzz::source_file("models/fmnist_squeezenet.onnx"));
  const qsim::Tensor x100 = qsim::read_npy(std::string(QSIM_SOURCE_DIR) + "/models/fmnist_test100.npy");
  const qsim::Tensor y100 = qsim::read_npy(std::string(QSIM_SOURCE_DIR) + "/models/fmnist_test100_labels.npy");
  qsim::Tensor x4(qsim::DType::kFloat32, {4, 1, 28, 28});
  std::copy_n(x100.data<float>().data(), 4 * 28 * 28, x4.data<float>().data());
  qsim::Tensor y4(qsim::DType::kInt64, {4});
  for (int64_t i = 0; i < 4; ++i) y4.data<int64_t>()[static_cast<std::size_t>(i)] = y100.as_int64(i);
  qsim::Tensor x1(qsim::DType::kFloat32, {1, 1, 28, 28});
  std::copy_n(x4.data<float>().data(), 28 * 28, x1.data<float>().data());
  put("d.npy", qsim::npy_bytes(x4));
  put("l.npy", qsim::npy_bytes(y4));
  put("x.npy", qsim::npy_bytes(x1));
  std::string pixels(4 * 28 * 28, '\0');
  for (std::size_t i = 0; i < pixels.size(); ++i)
    pixels[i] = static_cast<char>(static_cast<int>(x4.data<float>()[i] * 255.0f));
  std::string labels;
  for (int64_t i = 0; i < 4; ++i) labels += static_cast<char>(y4.as_int64(i));
  for (const char* split : {"train", "t10k"}) {
    put(std::string("fm/") + split + "-images-idx3-ubyte", qsim::testing::idx(0x08, {4, 28, 28}, pixels));
    put(std::string("fm/") + split + "-labels-idx1-ubyte", qsim::testing::idx(0x08, {4}, labels));
  }
  // Hardware, topology, SCALE-Sim config, precision and sensitivity files.
  put("hw.yaml", qsim::fuzz::source_file("configs/eyeriss.yaml"));
  put("space.yaml", qsim::fuzz::source_file("configs/spaces/eyeriss.yaml"));  // qsim search --space
  put("r.cfg", qsim::fuzz::source_file("tests/data/scalesim/configs/arr4x4_os_CALC.cfg"));
  put("t.csv",
      "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
      "Conv1,8,8,3,3,3,4,1,\nConv2,6,6,3,3,4,8,1,\n");
  put("a.json", R"({"layers": [{"name": "Conv1", "wbits": 4, "abits": 8}, )"
                R"({"name": "Conv2", "wbits": 8, "abits": 8}]})");
  // The sensitivity of the model, and an allocation of it, from the binary itself.
  if (run({"sensitivity", "--model", "m.onnx", "--data", "npy:d.npy", "--bits", "4,8", "--json", "s.json"}) != 0)
    qsim::fuzz::invariant_failed("set-up", "qsim sensitivity failed on the fixtures");
  g_fixtures["s.json"] = qsim::read_file((g_work / "s.json").string());
  if (run({"allocate", "--model", "m.onnx", "--sensitivity", "s.json", "--high-count", "2", "--out", "p.json"}) != 0)
    qsim::fuzz::invariant_failed("set-up", "qsim allocate failed on the fixtures");
  g_fixtures["p.json"] = qsim::read_file((g_work / "p.json").string());
  // A run result, as qsim report and qsim compare read it.
  if (run({"--hw", "hw.yaml", "--model", "t.csv", "--json", "res.json"}) != 0)
    qsim::fuzz::invariant_failed("set-up", "qsim --json failed on the fixtures");
  g_fixtures["res.json"] = qsim::read_file((g_work / "res.json").string());
  fs::create_directories(g_work / "dir");
  g_clean = snapshot();

  // The vocabulary: every command, every option the binary lists, and values.
  const std::vector<std::string> commands = {"info",    "simulate", "lut",  "sweep",    "compare",     "report",
                                             "export-scalesim", "hw", "run", "eval", "quantize", "sensitivity",
                                             "allocate", "search"};
  std::set<std::string> words(commands.begin(), commands.end());
  words.insert({"--help", "--version"});
  for (const std::string& cmd : cat_empty(commands)) {
    std::string out;
    std::vector<std::string> args;
    if (!cmd.empty()) args.push_back(cmd);
    args.push_back("--help");
    run(args, &out);
    std::istringstream in(out);
    for (std::string w; in >> w;) {
      while (!w.empty() && (w.back() == ',' || w.back() == ']')) w.pop_back();
      if (w.rfind("--", 0) == 0 && w.size() > 2) words.insert(w);
      if (w.rfind("-", 0) == 0 && w.size() == 2) words.insert(w);
    }
  }
  if (words.size() < 60) qsim::fuzz::invariant_failed("set-up", "too few options found in --help");
  g_vocab.assign(words.begin(), words.end());
  for (const auto& [rel, bytes] : g_fixtures) g_vocab.push_back(rel);
  for (const char* v :
       {"fm", "fashion-mnist:fm", "npy:d.npy", "images:fm", "npy:x.npy", "dir", ".", "..", "../..", "out.csv",
        "out.json", "out.onnx", "out.npy", "out", "out/", "dir/out.csv", "missing/out.csv", "m.onnx/x", "/dev/null",
        "", "0", "1", "2", "4", "8", "16", "32", "33", "-1", "-8", "3.5", "1e999", "nan", "inf", "9223372036854775807",
        "4611686018427387904", "2,4,8", "4,8", "8,4", "2,,8", "[4,8", "4,8]", "x", "25%", "1K", "64M",
        "array.rows=4", "array.rows=4,8", "array.cols=0", "pe.widths=[2,4,8]", "pe.widths=[4,8",
        "pe.widths=[2,4,8],[4,8", "memory.ifmap_kib=0.001", "memory.ofmap_kib=1,2", "array.dataflow=ws,os",
        "pe.precision=bitfusion", "energy.mac_pj.8=1", "Conv1=4", "conv=99", "minmax", "percentile", "mse", "kl",
        "fake", "int", "random", "nchw", "nhwc", "0.5", "0.5,0.5", "1,1,1,1", "array.rows", "'x'",
        // the cycle-level backends, the search, the sensitivity methods and allocators
        "analytical", "systemc", "rtl", "out.vcd", "Conv1,Conv2", "walk", "amed", "measured", "output-kl",
        "isolated", "quantunev2", "rank", "knapsack", "greedy-measured",
        // sweep columns, reports, SCALE-Sim export
        "latency_ms", "latency_ms,pes", "area_kge", "total_sram_kib", "out.html", "out.csv.journal", "run"})
    g_vocab.push_back(v);
  g_vocab.push_back(std::string(300, 'n'));  // a name longer than NAME_MAX
  g_vocab.push_back(std::string(300, 'n') + ".csv");
}

void fuzz_one(std::string_view bytes) {
  std::vector<std::string> args;
  for (std::size_t i = 0; i < bytes.size() && args.size() < 24; ++i) {
    const auto b = static_cast<unsigned char>(bytes[i]);
    if (b == 255 && i + 1 < bytes.size()) {
      ++i;  // the length byte
      const std::size_t n = std::min<std::size_t>(static_cast<unsigned char>(bytes[i]), bytes.size() - i - 1);
      std::string s(bytes.substr(i + 1, n));
      for (char& c : s)
        if (c == '/' || c == '\0') c = '_';
      args.push_back(std::move(s));
      i += n;
    } else {
      args.push_back(g_vocab[b % g_vocab.size()]);
    }
  }
  std::string out, err;
  const int rc = run(args, &out, &err);
  std::string line;
  for (const std::string& a : args) line += " '" + a + "'";
  const auto after = snapshot();
  for (const auto& [rel, bytes_before] : g_clean) {
    const auto it = after.find(rel);
    if (it == after.end() || it->second != bytes_before)
      qsim::fuzz::invariant_failed("an input changed or vanished", rel + " after qsim" + line);
  }
  for (const auto& [rel, b] : after)
    if (rel.find(".qsim.tmp.") != std::string::npos)
      qsim::fuzz::invariant_failed("temporary file left", rel + " after qsim" + line);
  if (rc != 0 && rc != 1 && rc != 2)
    qsim::fuzz::invariant_failed("exit code", std::to_string(rc) + " from qsim" + line);
  if (rc == 2) {
    if (err.rfind("qsim: error: ", 0) != 0 || err.find('\n') != err.size() - 1)
      qsim::fuzz::invariant_failed("not one error line", err + " from qsim" + line);
    if (err.find("internal error") != std::string::npos) qsim::fuzz::invariant_failed("internal error", err + line);
    if (!out.empty()) qsim::fuzz::invariant_failed("stdout on error", out.substr(0, 200) + " from qsim" + line);
    if (after.size() != g_clean.size())
      qsim::fuzz::invariant_failed("a file was written on error", "qsim" + line);
  }
  restore();
}
