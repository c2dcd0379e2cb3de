// Bad input through the real qsim binary: every kind of defective file or
// argument a user can give (ONNX, hardware YAML, SCALE-Sim .cfg and topology,
// alloc.json, .npy, IDX, paths, limits). For every case: exit code 2, exactly one
// line on stderr starting "qsim: error: ", nothing on stdout... no crash (a
// signal or a sanitizer report would change the exit code), and no output file
// or temporary file left behind.
//
// The table in docs/robustness.md is this test's output: the test fails when the
// document differs; QSIM_UPDATE_ROBUSTNESS=1 build/tests/robustness_tests
// rewrites it (then review `git diff docs/robustness.md`).
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "graph/file_util.h"
#include "data/npy.h"
#include "tests/graph/onnx_test_util.h"
#include "tests/test_bytes.h"

namespace {

namespace fs = std::filesystem;
using qsim::testing::attr_i;
using qsim::testing::attr_ints;
using qsim::testing::gzip;
using qsim::testing::idx;
using qsim::testing::OnnxModel;
using qsim::testing::raw_input;
using onnx::TensorProto;

constexpr int64_t k2p62 = int64_t{1} << 62;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out << bytes;
}


std::string conv_model(const std::vector<int64_t>& x_dims, const std::vector<int64_t>& w_dims, bool with_w = true) {
  OnnxModel m;
  raw_input(m, "x", x_dims);
  m.output("y");
  if (with_w) {
    int64_t n = 1;
    for (int64_t d : w_dims) n *= d;
    m.init_f("w", w_dims, std::vector<float>(static_cast<std::size_t>(n), 0.5f));
  }
  m.node("Conv", {"x", "w"}, {"y"}, "conv1");
  return m.bytes();
}


std::string npy_header(const std::string& dict) {
  std::string h = dict;
  h.append((64 - (10 + h.size() + 1) % 64) % 64, ' ');
  h += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(h.size() & 0xff);
  out += static_cast<char>((h.size() >> 8) & 0xff);
  return out + h;
}

const std::string kYaml = R"(array: {rows: 8, cols: 8, dataflow: ws, clock_mhz: 200}
pe: {precision: fixed, base_bits: 8}
memory: {ifmap_kib: 16, filter_kib: 16, ofmap_kib: 16, dram_bytes_per_cycle: 8}
)";

const std::string kCfg = R"([general]
run_name = r

[architecture_presets]
ArrayHeight: 8
ArrayWidth: 8
IfmapSramSzkB: 4
FilterSramSzkB: 4
OfmapSramSzkB: 4
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Dataflow: os

[run_presets]
InterfaceBandwidth: CALC
)";

// A run result as qsim --json writes it, cut to what qsim report and compare read.
const std::string kRunJson =
    R"({"model": "t", "hw": "h", "total_cycles": 10, "compute_cycles": 10, "stall_cycles": 0, "vector_cycles": 0, )"
    R"("latency_ms": 0.05, "energy_uj": 1.5, "sram_bytes": 64, "dram_bytes": 32, "layers": [{"name": "Conv1", )"
    R"("is_compute": true, "total_cycles": 10, "stall_cycles": 0, "vector_cycles": 0, "wbits": 8, "abits": 8, )"
    R"("dram_bytes": 32, "energy_pj": 1500000}]})";

const std::string kTopoHeader =
    "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n";

// One row of the table: the files it needs (relative to a fresh directory), the
// qsim arguments, and optional environment assignments.
struct Case {
  std::string input;  // which reader or path
  std::string what;   // the defect
  std::vector<std::pair<std::string, std::string>> files;
  std::vector<std::string> args;
  std::string env;  // "VAR=value" prefix, or empty

  Case(std::string input_, std::string what_, std::vector<std::pair<std::string, std::string>> files_,
       std::vector<std::string> args_, std::string env_ = {})
      : input(std::move(input_)), what(std::move(what_)), files(std::move(files_)), args(std::move(args_)),
        env(std::move(env_)) {}
};


// ---- the files every generated case starts from ----
//
// A small classifier (Conv 3->4 3x3, Flatten, Gemm 144->10) with data of its shape,
// a config, a SCALE-Sim .cfg and topology, an allocation for the topology, and a
// sensitivity file of the model made by the binary itself (sensitivity_json()).
std::string classifier() {
  OnnxModel m;
  raw_input(m, "x", {1, 3, 8, 8});
  m.output("logits");
  m.init_f("w", {4, 3, 3, 3}, std::vector<float>(108, 0.1f));
  m.init_i64("shape", {2}, {1, 144});
  std::vector<float> w2(1440);
  for (std::size_t i = 0; i < w2.size(); ++i) w2[i] = static_cast<float>(i % 7) * 0.01f;
  m.init_f("w2", {144, 10}, w2);
  m.node("Conv", {"x", "w"}, {"c"}, "conv1");
  m.node("Reshape", {"c", "shape"}, {"f"}, "flat");
  m.node("MatMul", {"f", "w2"}, {"logits"}, "fc");
  return m.bytes();
}

qsim::Tensor samples(int64_t n) {
  qsim::Tensor t(qsim::DType::kFloat32, {n, 3, 8, 8});
  auto d = t.data<float>();
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = static_cast<float>((i * 37) % 101) / 101.0f;
  return t;
}

std::string labels_npy(int64_t n) {
  qsim::Tensor t(qsim::DType::kInt64, {n});
  for (int64_t i = 0; i < n; ++i) t.data<int64_t>()[static_cast<std::size_t>(i)] = i % 10;
  return qsim::npy_bytes(t);
}

using Files = std::vector<std::pair<std::string, std::string>>;

std::string sensitivity_json();  // below: needs the binary

// A fixture whose content starts with this is a symbolic link to the rest.
constexpr const char* kLink = "symlink:";

Files base_files() {
  const std::string idx_images = idx(0x08, {4, 8, 8}, std::string(4 * 64, '\x20'));
  const std::string idx_labels = idx(0x08, {4}, std::string("\x01\x02\x03\x04", 4));
  return {{"m.onnx", classifier()},
          {"hw.yaml", kYaml},
          {"r.cfg", kCfg},
          {"t.csv", kTopoHeader + "Conv1,8,8,3,3,3,4,1,\nConv2,6,6,3,3,4,8,1,\n"},
          {"a.json", R"({"layers": [{"name": "Conv1", "wbits": 8, "abits": 8}, )"
                     R"({"name": "Conv2", "wbits": 4, "abits": 8}]})"},
          {"x.npy", qsim::npy_bytes(samples(1))},
          {"d.npy", qsim::npy_bytes(samples(4))},
          {"l.npy", labels_npy(4)},
          {"s.json", sensitivity_json()},
          {"res.json", kRunJson},
          {"fm/t10k-images-idx3-ubyte", idx_images},
          {"fm/t10k-labels-idx1-ubyte", idx_labels},
          {"fm/train-images-idx3-ubyte", idx_images},
          {"fm/train-labels-idx1-ubyte", idx_labels},
          {"dir/keep", ""}};
}

Files with(Files f, const Files& more) {
  for (const auto& m : more) {
    auto it = std::find_if(f.begin(), f.end(), [&](const auto& e) { return e.first == m.first; });
    if (it != f.end()) it->second = m.second;
    else f.push_back(m);
  }
  return f;
}

std::vector<std::string> cat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// qsim search as it succeeds on base_files() in well under a second: a few chain
// steps and checks on the four samples, both layers free on a Bit Fusion PE.
std::vector<std::string> search_args() {
  return {"search", "--hw", "hw.yaml", "--set", "pe.precision=bitfusion", "--set", "pe.widths=[2,4,8]",
          "--model", "m.onnx", "--data", "npy:d.npy", "--labels", "l.npy", "--no-keep-first-last",
          "--steps", "20", "--chains", "1", "--check-every", "10", "--check-samples", "1", "--calib-samples", "4",
          "--no-random"};
}

// `args` with the value of `opt` replaced (appended when absent): a case changes one
// option of a base command, never gives it twice.
std::vector<std::string> set_opt(std::vector<std::string> args, const std::string& opt, const std::string& value) {
  for (std::size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == opt) {
      args[i + 1] = value;
      return args;
    }
  args.push_back(opt);
  args.push_back(value);
  return args;
}

// `args` without `opt` and its value.
std::vector<std::string> drop_opt(std::vector<std::string> args, const std::string& opt) {
  for (std::size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == opt) {
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i), args.begin() + static_cast<std::ptrdiff_t>(i) + 2);
      break;
    }
  return args;
}

// A command as it would succeed on base_files() (a test below checks it does), and
// the outputs it can write, with a name for each.
struct Command {
  std::string label;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> outputs;  // option, a good file name
  std::string input;  // the input an output most plausibly overwrites by mistake
};

std::vector<Command> commands() {
  return {
      {"qsim simulate", {"simulate", "--hw", "hw.yaml", "--topology", "t.csv"},
       {{"--csv", "out.csv"}, {"--json", "out.json"}, {"--scalesim-out", "outdir"}, {"--report", "out.html"}}, "t.csv"},
      {"qsim (main job)", {"--hw", "hw.yaml", "--model", "m.onnx"}, {{"--csv", "out.csv"}, {"--json", "out.json"}},
       "m.onnx"},
      {"qsim lut", {"lut", "--hw", "hw.yaml", "--model", "t.csv", "--bits", "4,8"},
       {{"--out", "out.csv"}, {"--npy", "out.npy"}}, "t.csv"},
      {"qsim sweep", {"sweep", "--hw", "hw.yaml", "--model", "t.csv", "--set", "array.rows=4,8"},
       {{"--out", "out.csv"}, {"--json", "out.json"}, {"--report", "out.html"}}, "hw.yaml"},
      {"qsim compare", {"compare", "--hw", "hw.yaml", "--hw", "hw.yaml", "--model", "t.csv"}, {{"--csv", "out.csv"}},
       "t.csv"},
      {"qsim compare (two results)", {"compare", "res.json", "res.json"}, {{"--csv", "out.csv"}}, "res.json"},
      {"qsim report", {"report", "--from", "res.json"}, {{"--out", "out.html"}}, "res.json"},
      {"qsim export-scalesim", {"export-scalesim", "--hw", "hw.yaml", "--model", "t.csv"}, {{"--out-dir", "expdir"}},
       "t.csv"},
      {"qsim run", {"run", "--model", "m.onnx", "--input", "x.npy"}, {{"--output", "out.npy"}}, "x.npy"},
      {"qsim eval", {"eval", "--model", "m.onnx", "--data", "npy:d.npy", "--labels", "l.npy"},
       {{"--json", "out.json"}}, "l.npy"},
      {"qsim quantize",
       {"quantize", "--model", "m.onnx", "--data", "npy:d.npy", "--labels", "l.npy", "--calib-samples", "4"},
       {{"--out", "q.onnx"}, {"--save-precision", "p.json"}, {"--json", "out.json"}, {"--dump-logits", "z.npy"}},
       "m.onnx"},
      {"qsim sensitivity", {"sensitivity", "--model", "m.onnx", "--data", "npy:d.npy", "--calib-samples", "4"},
       {{"--csv", "out.csv"}, {"--json", "out.json"}}, "d.npy"},
      {"qsim allocate", {"allocate", "--model", "m.onnx", "--sensitivity", "s.json", "--high-count", "1"},
       {{"--out", "out.json"}, {"--json", "report.json"}}, "s.json"},
      {"qsim simulate --backend systemc",
       {"simulate", "--backend", "systemc", "--hw", "hw.yaml", "--topology", "t.csv", "--layers", "Conv1"},
       {{"--vcd", "out.vcd"}, {"--trace", "tracedir"}, {"--csv", "out.csv"}}, "t.csv"},
      {"qsim search", cat(search_args(), {"--out", "outdir"}), {{"--out", "outdir"}, {"--report", "out.html"}},
       "m.onnx"},
  };
}

// Options that name a folder the command writes into (created when missing).
bool folder_output(const std::string& label, const std::string& opt) {
  return opt == "--scalesim-out" || opt == "--trace" || opt == "--out-dir" || (label == "qsim search" && opt == "--out");
}

std::string sensitivity_json() {
  static const std::string json = [] {
    const fs::path dir = fs::temp_directory_path() / ("qsim_robustness_s_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    write(dir / "m.onnx", classifier());
    write(dir / "d.npy", qsim::npy_bytes(samples(4)));
    const std::string cmd = "cd '" + dir.string() + "' && '" + QSIM_BINARY +
                            "' sensitivity --model m.onnx --data npy:d.npy --bits 4,8 --calib-samples 4 "
                            "--json s.json >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) return std::string("{}");
    std::string s = slurp(dir / "s.json");
    fs::remove_all(dir);
    return s;
  }();
  return json;
}

// Every output option of every command: the ways a user points it at the wrong place.
std::vector<Case> output_path_cases() {
  std::vector<Case> c;
  const Files base = base_files();
  const std::string too_long(300, 'o');
  for (const Command& cmd : commands()) {
    for (std::size_t i = 0; i < cmd.outputs.size(); ++i) {
      const std::string& opt = cmd.outputs[i].first;  // not a structured binding: clang 14 cannot capture one
      const std::string& good = cmd.outputs[i].second;
      const std::string who = cmd.label + " " + opt;
      const bool folder = folder_output(cmd.label, opt);
      // The option set to `value` (replaced when the base command gives it, as search's --out).
      const auto run = [&](const std::string& value, const std::vector<std::string>& extra = {}) {
        std::vector<std::string> a = set_opt(cmd.args, opt, value);
        for (std::size_t k = 0; k + 1 < extra.size(); k += 2) a = set_opt(a, extra[k], extra[k + 1]);
        return a;
      };
      c.push_back({"output path", who + ": the file of an input (" + cmd.input + ")", base, run(cmd.input)});
      if (!folder)
        c.push_back({"output path", who + ": a symbolic link to that input",
                     with(base, {{"link", std::string(kLink) + cmd.input}}), run("link")});
      for (std::size_t j = 0; j < cmd.outputs.size(); ++j) {
        if (j == i || folder_output(cmd.label, cmd.outputs[j].first) || folder) continue;
        c.push_back({"output path", who + ": the same file as " + cmd.outputs[j].first, base,
                     run(cmd.outputs[j].second, {cmd.outputs[j].first, cmd.outputs[j].second})});
        break;
      }
      c.push_back({"output path", who + ": a name longer than the system allows (300 bytes)", base,
                   run(too_long + (folder ? "" : ".out"))});
      c.push_back({"output path", who + ": an empty name ('')", base, run("")});
      if (!folder) c.push_back({"output path", who + ": an existing folder", base, run("dir")});
      if (!folder)  // --scalesim-out creates its folder, with the parents
        c.push_back({"output path", who + ": inside a folder that does not exist", base, run("missing/" + good)});
      c.push_back({"output path", who + ": under a file used as a folder", base, run("hw.yaml/" + good)});
    }
  }
  // The issue's cases, named as reported.
  c.push_back({"output path", "qsim quantize --out: the model itself", base,
               {"quantize", "--model", "m.onnx", "--data", "npy:d.npy", "--labels", "l.npy", "--out", "m.onnx"}});
  c.push_back({"output path", "qsim quantize --out: its .alloc.json is the --precision input",
               with(base, {{"q.alloc.json", R"({"layers": [{"name": "conv1", "wbits": 8, "abits": 8}, )"
                                            R"({"name": "fc", "wbits": 8, "abits": 8}]})"}}),
               {"quantize", "--model", "m.onnx", "--data", "npy:d.npy", "--labels", "l.npy", "--precision",
                "q.alloc.json", "--out", "q.onnx"}});
  c.push_back({"output path", "qsim --csv x --json x (two outputs, one file)", base,
               {"--hw", "hw.yaml", "--model", "m.onnx", "--csv", "x", "--json", "x"}});
  c.push_back({"output path", "qsim --csv ./x --json x (the same file spelt twice)", base,
               {"--hw", "hw.yaml", "--model", "m.onnx", "--csv", "./x", "--json", "x"}});
  c.push_back({"output path", "qsim simulate --scalesim-out: the folder of the --topology input, named as its report",
               with(base, {{"out/COMPUTE_REPORT.csv", kTopoHeader + "Conv1,8,8,3,3,3,4,1,\n"}}),
               {"simulate", "--hw", "hw.yaml", "--topology", "out/COMPUTE_REPORT.csv", "--scalesim-out", "out"}});
  c.push_back({"output path", "qsim run: two --output options, one file", base,
               {"run", "--model", "m.onnx", "--input", "x.npy", "--output", "y.npy", "--output", "logits=y.npy"}});
  c.push_back({"output path", "qsim eval --json: a file of the --data fashion-mnist folder", base,
               {"eval", "--model", "m.onnx", "--data", "fashion-mnist:fm", "--json", "fm/t10k-labels-idx1-ubyte"}});
  c.push_back({"output path", "existing outputs stay as they were when another output is refused",
               with(base, {{"out.csv", "old csv\n"}}),
               {"simulate", "--hw", "hw.yaml", "--topology", "t.csv", "--csv", "out.csv", "--json", "missing/o.json"}});
  // Folders filled with files only the run names (--trace), and the search's folder.
  c.push_back({"output path", "qsim simulate --trace: its layers.csv is the --topology input",
               with(base, {{"tr/layers.csv", kTopoHeader + "Conv1,8,8,3,3,3,4,1,\n"}}),
               {"simulate", "--backend", "systemc", "--hw", "hw.yaml", "--topology", "tr/layers.csv", "--trace", "tr"}});
  c.push_back({"output path", "qsim simulate --trace and --scalesim-out: one folder", base,
               {"simulate", "--backend", "systemc", "--hw", "hw.yaml", "--topology", "t.csv", "--trace", "o",
                "--scalesim-out", "o"}});
  c.push_back({"output path", "qsim simulate --trace: the folder of the --csv output", base,
               {"simulate", "--backend", "systemc", "--hw", "hw.yaml", "--topology", "t.csv", "--trace", "o",
                "--csv", "o"}});
  c.push_back({"output path", "qsim search --out: its summary.json is the --sensitivity input",
               with(base, {{"o/summary.json", sensitivity_json()}}),
               cat(search_args(), {"--sensitivity", "o/summary.json", "--out", "o"})});
  c.push_back({"output path", "qsim sweep --out: its journal is the --hw input",
               with(base, {{"o.csv.journal", kYaml}}),
               {"sweep", "--hw", "o.csv.journal", "--model", "t.csv", "--set", "array.rows=4,8", "--out", "o.csv"}});
  c.push_back({"output path", "qsim sweep --out: its journal is the --json output", base,
               {"sweep", "--hw", "hw.yaml", "--model", "t.csv", "--set", "array.rows=4,8", "--out", "o.csv", "--json",
                "o.csv.journal"}});
  c.push_back({"output path", "qsim lut --npy: its energy file is the --out file", base,
               {"lut", "--hw", "hw.yaml", "--model", "t.csv", "--bits", "4,8", "--out", "z.energy_pj.csv", "--npy",
                "z.npy", "--npy", "z.energy_pj.npy"}});
  c.push_back({"output path", "qsim report --out: a result JSON of the --from folder",
               with(base, {{"rd/a.json", kRunJson}}), {"report", "--from", "rd", "--out", "rd/a.json"}});
  c.push_back({"output path", "qsim export-scalesim --out-dir: its NAME.csv is the --topology input",
               with(base, {{"ex/run.csv", kTopoHeader + "Conv1,8,8,3,3,3,4,1,\n"}}),
               {"export-scalesim", "--hw", "hw.yaml", "--model", "ex/run.csv", "--out-dir", "ex", "--name", "run"}});
  c.push_back({"output path", "qsim search --out: its alloc.json is the --hw input (a link)",
               with(base, {{"o/alloc.json", std::string(kLink) + "../hw.yaml"}}),
               cat(search_args(), {"--out", "o"})});
  return c;
}

// Every option that names an input: missing, a folder, too long, empty, and a file
// of every other kind qsim reads.
std::vector<Case> input_path_cases() {
  std::vector<Case> c;
  const Files base = base_files();
  struct Input {
    std::string label;
    std::vector<std::string> before;  // args before the value
    std::vector<std::string> after;   // args after it
    std::string prefix;               // "npy:" for --data npy:FILE
    std::vector<std::string> accepts;  // fixture files that are valid here (not "another kind")
  };
  const std::vector<Input> inputs = {
      {"qsim info --model", {"info", "--model"}, {}, "", {"m.onnx", "t.csv"}},
      {"qsim simulate --topology", {"simulate", "--hw", "hw.yaml", "--topology"}, {}, "", {"t.csv"}},
      {"qsim hw --hw", {"hw", "--hw"}, {}, "", {"hw.yaml"}},
      {"qsim hw --scalesim-cfg", {"hw", "--scalesim-cfg"}, {}, "", {"r.cfg"}},
      {"qsim simulate --precision", {"simulate", "--hw", "hw.yaml", "--topology", "t.csv", "--precision"}, {}, "",
       {"a.json"}},
      {"qsim run --input", {"run", "--model", "m.onnx", "--input"}, {"--output", "y.npy"}, "", {"x.npy"}},
      {"qsim run --precision", {"run", "--model", "m.onnx", "--input", "x.npy", "--output", "y.npy", "--precision"},
       {"--calib-data", "npy:d.npy"}, "", {}},
      {"qsim eval --labels", {"eval", "--model", "m.onnx", "--data", "npy:d.npy", "--labels"}, {}, "", {"l.npy"}},
      {"qsim eval --data npy:", {"eval", "--model", "m.onnx", "--labels", "l.npy", "--data"}, {}, "npy:",
       {"d.npy", "x.npy"}},
      {"qsim quantize --calib-data npy:",
       {"quantize", "--model", "m.onnx", "--data", "npy:d.npy", "--labels", "l.npy", "--calib-data"}, {}, "npy:",
       {"d.npy", "x.npy"}},
      {"qsim allocate --sensitivity", {"allocate", "--model", "m.onnx", "--high-count", "1", "--sensitivity"}, {}, "",
       {"s.json"}},
      {"qsim sensitivity --labels", {"sensitivity", "--model", "m.onnx", "--data", "npy:d.npy", "--labels"}, {}, "",
       {"l.npy"}},
      {"qsim simulate --verify --data npy:",
       {"simulate", "--backend", "systemc", "--verify", "--hw", "hw.yaml", "--model", "m.onnx", "--data"}, {}, "npy:",
       {"d.npy", "x.npy"}},
      {"qsim search --data npy:", cat(drop_opt(search_args(), "--data"), {"--out", "o", "--data"}), {}, "npy:",
       {"d.npy"}},
      {"qsim search --labels", cat(drop_opt(search_args(), "--labels"), {"--out", "o", "--labels"}), {}, "", {"l.npy"}},
      {"qsim search --space", cat(search_args(), {"--out", "o", "--space"}), {}, "", {}},
      {"qsim search --sensitivity", cat(search_args(), {"--out", "o", "--sensitivity"}), {}, "", {"s.json"}},
      {"qsim report --from", {"report", "--out", "o.html", "--from"}, {}, "", {"res.json"}},
      {"qsim compare --hw", {"compare", "--hw", "hw.yaml", "--model", "t.csv", "--hw"}, {}, "", {"hw.yaml"}},
      {"qsim export-scalesim --model", {"export-scalesim", "--hw", "hw.yaml", "--out-dir", "o", "--model"}, {}, "",
       {"m.onnx", "t.csv"}},
  };
  const std::vector<std::pair<std::string, std::string>> kinds = {
      {"m.onnx", "an ONNX model"}, {"hw.yaml", "a hardware YAML"}, {"r.cfg", "a SCALE-Sim .cfg"},
      {"t.csv", "a SCALE-Sim topology"}, {"a.json", "an alloc.json"}, {"x.npy", "a .npy tensor"},
      {"fm/t10k-images-idx3-ubyte", "an IDX file"}, {"s.json", "a sensitivity JSON"}};
  for (const Input& in : inputs) {
    const auto run = [&](const std::string& v) { return cat(cat(in.before, {in.prefix + v}), in.after); };
    c.push_back({"input path", in.label + ": a file that does not exist", base, run("nothere.x")});
    c.push_back({"input path", in.label + ": a folder", base, run("dir")});
    c.push_back({"input path", in.label + ": a name longer than the system allows (300 bytes)", base,
                 run(std::string(300, 'i') + ".x")});
    if (in.prefix.empty()) c.push_back({"input path", in.label + ": an empty name ('')", base, run("")});
    for (const auto& [file, kind] : kinds) {
      if (std::find(in.accepts.begin(), in.accepts.end(), file) != in.accepts.end()) continue;
      c.push_back({"input path", in.label + ": " + kind + " (" + file + ")", base, run(file)});
    }
  }
  c.push_back({"input path", "qsim eval --data fashion-mnist: a folder without IDX files", base,
               {"eval", "--model", "m.onnx", "--data", "fashion-mnist:dir"}});
  c.push_back({"input path", "qsim eval --data images: a folder without images", base,
               {"eval", "--model", "m.onnx", "--data", "images:dir", "--labels", "l.npy"}});
  return c;
}

// Every number a command takes: zero, negative, not a number, too large.
std::vector<Case> number_cases() {
  std::vector<Case> c;
  const Files base = base_files();
  const std::vector<std::string> sim = {"simulate", "--hw", "hw.yaml", "--topology", "t.csv"};
  const std::vector<std::string> eval = {"eval", "--model", "m.onnx", "--data", "npy:d.npy", "--labels", "l.npy"};
  const std::vector<std::string> quant = {"quantize", "--model", "m.onnx", "--data", "npy:d.npy", "--labels", "l.npy"};
  const std::vector<std::string> sens = {"sensitivity", "--model", "m.onnx", "--data", "npy:d.npy"};
  const std::vector<std::string> alloc = {"allocate", "--model", "m.onnx", "--sensitivity", "s.json"};
  const std::vector<std::string> sweep = {"sweep", "--hw", "hw.yaml", "--model", "t.csv", "--set", "array.rows=4,8"};
  const std::vector<std::string> run = {"run", "--model", "m.onnx", "--input", "x.npy", "--output", "y.npy"};
  const std::vector<std::string> search = cat(search_args(), {"--out", "o"});
  const struct {
    std::string label;
    std::vector<std::string> args;
  } rows[] = {
      {"qsim simulate --bits 0", cat(sim, {"--bits", "0"})},
      {"qsim simulate --bits -4", cat(sim, {"--bits", "-4"})},
      {"qsim simulate --bits eight", cat(sim, {"--bits", "eight"})},
      {"qsim simulate --bits 2^62", cat(sim, {"--bits", "4611686018427387904"})},
      {"qsim simulate --wbits 33", cat(sim, {"--wbits", "33"})},
      {"qsim simulate --abits 0", cat(sim, {"--abits", "0"})},
      {"qsim simulate --bits 4.5", cat(sim, {"--bits", "4.5"})},
      {"qsim simulate --bits 16 (wider than the PE)", cat(sim, {"--bits", "16"})},
      {"qsim eval --limit 0", cat(eval, {"--limit", "0"})},
      {"qsim eval --limit -1", cat(eval, {"--limit", "-1"})},
      {"qsim eval --threads -1", cat(eval, {"--threads", "-1"})},
      {"qsim eval --threads 100000", cat(eval, {"--threads", "100000"})},
      {"qsim eval --batch -2", cat(eval, {"--batch", "-2"})},
      {"qsim eval --resize -1", cat({"eval", "--model", "m.onnx", "--data", "images:dir", "--labels", "l.npy"},
                                    {"--resize", "-1"})},
      {"qsim eval --crop -8", cat({"eval", "--model", "m.onnx", "--data", "images:dir", "--labels", "l.npy"},
                                  {"--crop", "-8"})},
      {"qsim quantize --limit 0", cat(quant, {"--limit", "0"})},
      {"qsim quantize --limit many", cat(quant, {"--limit", "many"})},
      {"qsim quantize --calib-samples 0", cat(quant, {"--calib-samples", "0"})},
      {"qsim quantize --percentile 101", cat(quant, {"--percentile", "101", "--calib", "percentile"})},
      {"qsim quantize --percentile nan", cat(quant, {"--percentile", "nan", "--calib", "percentile"})},
      {"qsim quantize --acc-bits 8", cat(quant, {"--acc-bits", "8"})},
      {"qsim quantize --bits 0", cat(quant, {"--bits", "0"})},
      {"qsim quantize --batch -1", cat(quant, {"--batch", "-1"})},
      {"qsim sensitivity --bits 1,33", cat(sens, {"--bits", "1,33"})},
      {"qsim sensitivity --abits 99", cat(sens, {"--abits", "99"})},
      {"qsim sensitivity --calib-samples -5", cat(sens, {"--calib-samples", "-5"})},
      {"qsim sensitivity --threads -3", cat(sens, {"--threads", "-3"})},
      {"qsim allocate --high 99", cat(alloc, {"--high", "99", "--high-count", "1"})},
      {"qsim allocate --low 8 --high 4", cat(alloc, {"--low", "8", "--high", "4", "--high-count", "1"})},
      {"qsim allocate --high-count -2", cat(alloc, {"--high-count", "-2"})},
      {"qsim allocate --high-fraction 1.5", cat(alloc, {"--high-fraction", "1.5"})},
      {"qsim allocate --high-fraction -0.5", cat(alloc, {"--high-fraction", "-0.5"})},
      {"qsim allocate --latency-budget-ms -1", cat(alloc, {"--latency-budget-ms", "-1", "--hw", "hw.yaml"})},
      {"qsim allocate --size-budget-kib -1", cat(alloc, {"--size-budget-kib", "-1"})},
      {"qsim allocate --tie-tolerance -1", cat(alloc, {"--tie-tolerance", "-1", "--high-count", "1"})},
      {"qsim allocate --seed -1", cat(alloc, {"--seed", "-1", "--order", "random", "--high-count", "1"})},
      {"qsim sweep --threads -1", cat(sweep, {"--threads", "-1"})},
      {"qsim sweep --threads 5000", cat(sweep, {"--threads", "5000"})},
      {"qsim run --threads -1", cat(run, {"--threads", "-1"})},
      {"qsim run --mem-limit -1G", cat(run, {"--mem-limit", "-1G"})},
      {"qsim run --mem-limit 200%", cat(run, {"--mem-limit", "200%"})},
      {"qsim run --mem-limit 1e999", cat(run, {"--mem-limit", "1e999"})},
      {"qsim hw --set array.rows=0", {"hw", "--hw", "hw.yaml", "--set", "array.rows=0"}},
      {"qsim hw --set array.rows=1e3", {"hw", "--hw", "hw.yaml", "--set", "array.rows=1e3"}},
      {"qsim hw --set array.clock_mhz=nan", {"hw", "--hw", "hw.yaml", "--set", "array.clock_mhz=nan"}},
      {"qsim hw --set array.clock_mhz=inf", {"hw", "--hw", "hw.yaml", "--set", "array.clock_mhz=inf"}},
      {"qsim hw --set memory.ifmap_kib=-1", {"hw", "--hw", "hw.yaml", "--set", "memory.ifmap_kib=-1"}},
      {"qsim hw --set memory.dram_bytes_per_cycle=0",
       {"hw", "--hw", "hw.yaml", "--set", "memory.dram_bytes_per_cycle=0"}},
      {"qsim lut --bits 0", {"lut", "--hw", "hw.yaml", "--model", "t.csv", "--bits", "0"}},
      {"qsim lut --bits 64", {"lut", "--hw", "hw.yaml", "--model", "t.csv", "--bits", "64"}},
      {"qsim sweep --area-budget-kge -1", cat(sweep, {"--area-budget-kge", "-1"})},
      {"qsim sweep --area-budget-kge 0", cat(sweep, {"--area-budget-kge", "0"})},
      {"qsim sweep --area-budget-kge x", cat(sweep, {"--area-budget-kge", "x"})},
      {"qsim search --steps -1", set_opt(search, "--steps", "-1")},
      {"qsim search --chains 0", set_opt(search, "--chains", "0")},
      {"qsim search --threads -1", set_opt(search, "--threads", "-1")},
      {"qsim search --threads 5000", set_opt(search, "--threads", "5000")},
      {"qsim search --seed -1", set_opt(search, "--seed", "-1")},
      {"qsim search --check-every 0", set_opt(search, "--check-every", "0")},
      {"qsim search --check-top 0", set_opt(search, "--check-top", "0")},
      {"qsim search --check-samples 0", set_opt(search, "--check-samples", "0")},
      {"qsim search --test-limit -1", set_opt(search, "--test-limit", "-1")},
      {"qsim search --front-points -1", set_opt(search, "--front-points", "-1")},
      {"qsim search --calib-samples 0", set_opt(search, "--calib-samples", "0")},
      {"qsim search --lambda -1 (never read as 'not given')", set_opt(search, "--lambda", "-1")},
      {"qsim search --lambda nan", set_opt(search, "--lambda", "nan")},
      {"qsim search --latency-target -1", set_opt(search, "--latency-target", "-1")},
      {"qsim search --latency-target 0", set_opt(search, "--latency-target", "0")},
      {"qsim search --max-size-kib -1", set_opt(search, "--max-size-kib", "-1")},
      {"qsim search --max-energy-uj inf", set_opt(search, "--max-energy-uj", "inf")},
      {"qsim search --min-top1 101", set_opt(search, "--min-top1", "101")},
      {"qsim search --max-drop -1", set_opt(search, "--max-drop", "-1")},
      {"qsim search --temp-start 0", set_opt(search, "--temp-start", "0")},
      {"qsim search --temp-end -1", set_opt(search, "--temp-end", "-1")},
      {"qsim search --abits 1", set_opt(search, "--abits", "1")},
      {"qsim search --bits 1,33", set_opt(search, "--bits", "1,33")},
  };
  for (const auto& r : rows) c.push_back({"number", r.label, base, r.args});
  return c;
}

// Every list: values that do not close, empty items, unknown keys, repeated axes.
std::vector<Case> list_cases() {
  std::vector<Case> c;
  const Files base = base_files();
  const std::vector<std::string> sweep = {"sweep", "--hw", "hw.yaml", "--model", "t.csv"};
  const std::vector<std::string> sim = {"simulate", "--hw", "hw.yaml", "--topology", "t.csv"};
  const struct {
    std::string label;
    std::vector<std::string> args;
  } rows[] = {
      {"qsim sweep --set pe.widths=[4,8 (never closed)", cat(sweep, {"--set", "pe.widths=[4,8"})},
      {"qsim sweep --set pe.widths=[2,4,8],[4,8 (second value never closed)",
       cat(sweep, {"--set", "pe.widths=[2,4,8],[4,8"})},
      {"qsim sweep --set pe.widths=4,8] (closed, never opened)", cat(sweep, {"--set", "pe.widths=4,8]"})},
      {"qsim sweep --set array.rows=4,,8 (empty value)", cat(sweep, {"--set", "array.rows=4,,8"})},
      {"qsim sweep --set array.rows= (no value)", cat(sweep, {"--set", "array.rows="})},
      {"qsim sweep --set array.rows (no =)", cat(sweep, {"--set", "array.rows"})},
      {"qsim sweep --set =4 (no key)", cat(sweep, {"--set", "=4"})},
      {"qsim sweep --set arry.rows=4 (unknown key)", cat(sweep, {"--set", "arry.rows=4"})},
      {"qsim sweep: one key as two axes", cat(sweep, {"--set", "array.rows=4,8", "--set", "array.rows=16"})},
      {"qsim sweep --set name='x (quote never closed)", cat(sweep, {"--set", "name='x"})},
      {"qsim sweep --set pe.widths=[4,8},2 (mismatched brackets)", cat(sweep, {"--set", "pe.widths=[4,8},2"})},
      {"qsim simulate --set pe.widths=[4,8 (never closed)", cat(sim, {"--set", "pe.widths=[4,8"})},
      {"qsim simulate --set array.rows=4,8 (a list where one value goes)", cat(sim, {"--set", "array.rows=4,8"})},
      {"qsim simulate --set pe.widths=[] (empty list)", cat(sim, {"--set", "pe.widths=[]"})},
      {"qsim simulate --set pe.widths=[4,x]", cat(sim, {"--set", "pe.widths=[4,x]"})},
      {"qsim lut --bits 2,,8 (empty item)", {"lut", "--hw", "hw.yaml", "--model", "t.csv", "--bits", "2,,8"}},
      {"qsim lut --bits 2,x", {"lut", "--hw", "hw.yaml", "--model", "t.csv", "--bits", "2,x"}},
      {"qsim lut --bits '' (empty list)", {"lut", "--hw", "hw.yaml", "--model", "t.csv", "--bits", ""}},
      {"qsim sensitivity --bits 4,,8", {"sensitivity", "--model", "m.onnx", "--data", "npy:d.npy", "--bits", "4,,8"}},
      {"qsim sensitivity --weights 1,2 (too few)",
       {"sensitivity", "--model", "m.onnx", "--data", "npy:d.npy", "--weights", "1,2"}},
      {"qsim sensitivity --weights a,b,c,d",
       {"sensitivity", "--model", "m.onnx", "--data", "npy:d.npy", "--weights", "a,b,c,d"}},
      {"qsim allocate --keep conv1 (no =BITS)",
       {"allocate", "--model", "m.onnx", "--sensitivity", "s.json", "--high-count", "1", "--keep", "conv1"}},
      {"qsim allocate --keep conv1=x",
       {"allocate", "--model", "m.onnx", "--sensitivity", "s.json", "--high-count", "1", "--keep", "conv1=x"}},
      {"qsim allocate --keep nothere=8 (unknown layer)",
       {"allocate", "--model", "m.onnx", "--sensitivity", "s.json", "--high-count", "1", "--keep", "nothere=8"}},
      {"qsim eval --mean 0.5,x",
       {"eval", "--model", "m.onnx", "--data", "images:dir", "--labels", "l.npy", "--mean", "0.5,x"}},
      {"qsim run --input x=y=z.npy (no such input name)",
       {"run", "--model", "m.onnx", "--input", "nothere=x.npy", "--output", "y.npy"}},
      {"qsim run --output nothere=y.npy (no such output)",
       {"run", "--model", "m.onnx", "--input", "x.npy", "--output", "nothere=y.npy"}},
      {"qsim simulate --layers Conv1,,Conv2 (empty item)", cat(sim, {"--layers", "Conv1,,Conv2"})},
      {"qsim simulate --layers nothere (no such layer)", cat(sim, {"--layers", "nothere"})},
      {"qsim search --bits 2,,8 (empty item)", set_opt(set_opt(search_args(), "--out", "o"), "--bits", "2,,8")},
      {"qsim search --bits 8 (one option per layer: nothing to search)",
       set_opt(set_opt(search_args(), "--out", "o"), "--bits", "8")},
      {"qsim search --keep conv1 (no =BITS)", set_opt(set_opt(search_args(), "--out", "o"), "--keep", "conv1")},
      {"qsim search --keep nothere=8 (unknown layer)", set_opt(set_opt(search_args(), "--out", "o"), "--keep", "nothere=8")},
  };
  for (const auto& r : rows) c.push_back({"list", r.label, base, r.args});
  return c;
}

// Options that pick one of a few names, and options that only apply with another.
std::vector<Case> choice_cases() {
  std::vector<Case> c;
  const Files base = base_files();
  const std::vector<std::string> sim = {"simulate", "--hw", "hw.yaml", "--topology", "t.csv"};
  const struct {
    std::string label;
    std::vector<std::string> args;
  } rows[] = {
      {"qsim simulate --backend verilog (unknown backend)", cat(sim, {"--backend", "verilog"})},
      {"qsim simulate --vcd without --backend systemc", cat(sim, {"--vcd", "w.vcd", "--layers", "Conv1"})},
      {"qsim simulate --trace without --backend systemc", cat(sim, {"--trace", "tr"})},
      {"qsim simulate --verify with the analytical backend", cat(sim, {"--verify"})},
      {"qsim simulate --data without --verify", cat(sim, {"--backend", "systemc", "--data", "npy:d.npy"})},
      {"qsim simulate --vcd with two --layers", cat(sim, {"--backend", "systemc", "--vcd", "w.vcd", "--layers",
                                                          "Conv1,Conv2"})},
      {"qsim simulate --verify on a topology (no weights)", cat(sim, {"--backend", "systemc", "--verify"})},
      {"qsim sensitivity --method nothere", {"sensitivity", "--model", "m.onnx", "--data", "npy:d.npy", "--method",
                                             "nothere"}},
      {"qsim sensitivity --method measured without labels",
       {"sensitivity", "--model", "m.onnx", "--data", "npy:d.npy", "--method", "measured"}},
      {"qsim allocate --allocator nothere",
       {"allocate", "--model", "m.onnx", "--sensitivity", "s.json", "--high-count", "1", "--allocator", "nothere"}},
      {"qsim allocate --allocator greedy-measured with --sensitivity",
       {"allocate", "--model", "m.onnx", "--sensitivity", "s.json", "--high-count", "1", "--allocator",
        "greedy-measured"}},
      {"qsim search --proposal nothere", set_opt(set_opt(search_args(), "--out", "o"), "--proposal", "nothere")},
      {"qsim sweep --pareto nothere (not a column)",
       {"sweep", "--hw", "hw.yaml", "--model", "t.csv", "--set", "array.rows=4,8", "--pareto", "latency_ms,nothere"}},
      {"qsim sweep --best nothere (not a column)",
       {"sweep", "--hw", "hw.yaml", "--model", "t.csv", "--set", "array.rows=4,8", "--best", "nothere"}},
      {"qsim sweep --best area_kge on a PE without an area figure",
       {"sweep", "--hw", "hw.yaml", "--model", "t.csv", "--set", "array.rows=4,8", "--set", "pe.acc_bits=24",
        "--best", "area_kge"}},
      {"qsim compare: one --hw", {"compare", "--hw", "hw.yaml", "--model", "t.csv"}},
      {"qsim compare: a result that does not exist", {"compare", "res.json", "nothere.json"}},
      {"qsim compare: an alloc.json as a result", {"compare", "res.json", "a.json"}},
      {"qsim compare: a sensitivity JSON as a result", {"compare", "s.json", "res.json"}},
      {"qsim compare: results and --hw together", {"compare", "res.json", "res.json", "--hw", "hw.yaml"}},
      {"qsim report --from: a folder without results", {"report", "--from", "dir", "--out", "o.html"}},
      {"qsim export-scalesim --name ../x (not a file stem)",
       {"export-scalesim", "--hw", "hw.yaml", "--model", "t.csv", "--out-dir", "o", "--name", "../x"}},
      {"qsim export-scalesim: fractional SRAM kB",
       {"export-scalesim", "--hw", "hw.yaml", "--set", "memory.ifmap_kib=1.5", "--model", "t.csv", "--out-dir", "o"}},
  };
  for (const auto& r : rows) c.push_back({"choice", r.label, base, r.args});
  return c;
}

// Files reused across models and tools: another model's allocation, SCALE-Sim v3's
// topology, a float64 model, a sensitivity file of another model.
std::vector<Case> file_kind_cases() {
  std::vector<Case> c;
  const Files base = base_files();
  c.push_back({"alloc.json", "made for another model (every layer missing, \"model\" names the other)",
               with(base, {{"o.json", R"({"model": "resnet18", "layers": [{"name": "conv1", "wbits": 8, "abits": 8}, )"
                                      R"({"name": "layer1.0.conv1", "wbits": 4, "abits": 8}]})"}}),
               {"simulate", "--hw", "hw.yaml", "--topology", "t.csv", "--precision", "o.json"}});
  c.push_back({"alloc.json", "made for the model but one layer short",
               with(base, {{"o.json", R"({"model": "t", "layers": [{"name": "Conv1", "wbits": 8, "abits": 8}]})"}}),
               {"simulate", "--hw", "hw.yaml", "--topology", "t.csv", "--precision", "o.json"}});
  c.push_back({"alloc.json", "a layer that is not in the model", 
               with(base, {{"o.json", R"({"layers": [{"name": "Conv1", "wbits": 8, "abits": 8}, )"
                                      R"({"name": "Conv2", "wbits": 8, "abits": 8}, )"
                                      R"({"name": "Conv3", "wbits": 8, "abits": 8}]})"}}),
               {"simulate", "--hw", "hw.yaml", "--topology", "t.csv", "--precision", "o.json"}});
  c.push_back({"alloc.json", "a width the PE cannot run (16 bits on a fixed 8-bit PE)",
               with(base, {{"o.json", R"({"layers": [{"name": "Conv1", "wbits": 16, "abits": 8}, )"
                                      R"({"name": "Conv2", "wbits": 8, "abits": 8}]})"}}),
               {"simulate", "--hw", "hw.yaml", "--topology", "t.csv", "--precision", "o.json"}});
  c.push_back({"alloc.json", "with --bits as well", base,
               {"simulate", "--hw", "hw.yaml", "--topology", "t.csv", "--precision", "a.json", "--bits", "4"}});
  c.push_back({"SCALE-Sim topology", "SCALE-Sim v3 form (ninth column headed Sparsity)",
               with(base, {{"v3.csv", "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
                                      "Num Filter, Strides, Sparsity,\nConv1,8,8,3,3,3,4,1,2,\n"}}),
               {"simulate", "--hw", "hw.yaml", "--topology", "v3.csv"}});
  c.push_back({"SCALE-Sim topology", "ten columns",
               with(base, {{"t10.csv", kTopoHeader + "Conv1,8,8,3,3,3,4,1,1,1,\n"}}),
               {"info", "--model", "t10.csv"}});
  c.push_back(
      {"SCALE-Sim topology", "header only", with(base, {{"h.csv", kTopoHeader}}), {"info", "--model", "h.csv"}});
  c.push_back({"SCALE-Sim topology", "a layer name twice",
               with(base, {{"d.csv", kTopoHeader + "Conv1,8,8,3,3,3,4,1,\nConv1,8,8,3,3,3,4,1,\n"}}),
               {"info", "--model", "d.csv"}});
  {
    OnnxModel m;
    m.input("x", {1, 4}, TensorProto::DOUBLE).output("y", TensorProto::DOUBLE);
    m.init_raw<double>("w", {4, 2}, TensorProto::DOUBLE, std::vector<double>(8, 0.5));
    m.node("MatMul", {"x", "w"}, {"y"}, "fc");
    qsim::Tensor x(qsim::DType::kFloat64, {1, 4});
    c.push_back({"ONNX", "float64 model run by the executor",
                 with(base, {{"f64.onnx", m.bytes()}, {"x64.npy", qsim::npy_bytes(x)}}),
                 {"run", "--model", "f64.onnx", "--input", "x64.npy", "--output", "y.npy"}});
  }
  {
    std::string other = sensitivity_json();  // the model's own file, its layers renamed: another model's
    for (std::size_t at; (at = other.find("\"conv1")) != std::string::npos;) other.replace(at, 6, "\"convX");
    c.push_back({"sensitivity JSON", "of another model (its layers renamed)", with(base, {{"s2.json", other}}),
                 {"allocate", "--model", "m.onnx", "--sensitivity", "s2.json", "--high-count", "1"}});
  }
  c.push_back({"sweep journal", "of another sweep (another fingerprint)",
               with(base, {{"o.csv.journal", "qsim-sweep-journal 1 0000 2\n0 1 2 3\n"}}),
               {"sweep", "--hw", "hw.yaml", "--model", "t.csv", "--set", "array.rows=4,8", "--out", "o.csv"}});
  c.push_back({"sensitivity JSON", "not one (an alloc.json)", base,
               {"allocate", "--model", "m.onnx", "--sensitivity", "a.json", "--high-count", "1"}});
  c.push_back({"HW YAML", "dotted top-level keys mixed with their section",
               with(base, {{"h2.yaml", kYaml + "array.rows: 16\n"}}), {"hw", "--hw", "h2.yaml"}});
  c.push_back({"HW YAML", "an empty file", with(base, {{"e.yaml", ""}}), {"hw", "--hw", "e.yaml"}});
  c.push_back(
      {"HW YAML", "a list at the top level", with(base, {{"l.yaml", "- 1\n- 2\n"}}), {"hw", "--hw", "l.yaml"}});
  c.push_back({"HW YAML + --set", "a buffer smaller than one fold, from an override",
               base,
               {"simulate", "--hw", "hw.yaml", "--topology", "t.csv", "--set", "memory.filter_kib=0.0009765625"}});
  c.push_back({"HW YAML + --set", "a 4096x4096 array with 1-byte SRAMs",
               base, {"simulate", "--hw", "hw.yaml", "--topology", "t.csv", "--set", "array.rows=4096", "--set",
                      "array.cols=4096", "--set", "memory.ifmap_kib=0.0009765625", "--set",
                      "memory.filter_kib=0.0009765625", "--set", "memory.ofmap_kib=0.0009765625"}});
  c.push_back({"SCALE-Sim cfg", "--hw and --scalesim-cfg together", base,
               {"simulate", "--hw", "hw.yaml", "--scalesim-cfg", "r.cfg", "--topology", "t.csv"}});
  c.push_back({"ONNX", "--model and --topology together", base,
               {"simulate", "--hw", "hw.yaml", "--model", "m.onnx", "--topology", "t.csv"}});
  c.push_back({".npy", "an input of the wrong shape",
               with(base, {{"b.npy", qsim::npy_bytes(qsim::Tensor(qsim::DType::kFloat32, {1, 3, 9, 8}))}}),
               {"run", "--model", "m.onnx", "--input", "b.npy", "--output", "y.npy"}});
  c.push_back({".npy", "labels of another length", with(base, {{"l3.npy", labels_npy(3)}}),
               {"eval", "--model", "m.onnx", "--data", "npy:d.npy", "--labels", "l3.npy"}});
  c.push_back({"command line", "an unknown option", base,
               {"simulate", "--hw", "hw.yaml", "--topology", "t.csv", "--jsn", "o.json"}});
  c.push_back({"command line", "an unknown command", base, {"simulte", "--hw", "hw.yaml"}});
  c.push_back({"command line", "an option without its value", base, {"simulate", "--hw", "hw.yaml", "--topology"}});
  return c;
}

std::vector<Case> cases() {
  std::vector<Case> c;
  const std::string good_onnx = conv_model({1, 3, 8, 8}, {4, 3, 3, 3});
  const std::string tiny_csv = kTopoHeader + "Conv1,8,8,3,3,3,4,1,\n";

  // ---- ONNX ----
  c.push_back({"ONNX", "truncated file (first half of a valid model)",
               {{"m.onnx", good_onnx.substr(0, good_onnx.size() / 2)}}, {"info", "--model", "m.onnx"}});
  std::string noise(4096, '\0');
  uint32_t r = 12345;
  for (char& ch : noise) ch = static_cast<char>((r = r * 1103515245u + 12345u) >> 16);
  c.push_back({"ONNX", "random bytes", {{"m.onnx", noise}}, {"info", "--model", "m.onnx"}});
  c.push_back({"ONNX", "empty file", {{"m.onnx", ""}}, {"info", "--model", "m.onnx"}});
  {
    OnnxModel m;
    m.input("x", {1, 1, 4, 4}).output("y");
    m.node("Resize", {"x"}, {"r"}, "up1");
    m.node("LSTM", {"r"}, {"y"}, "lstm_0");
    c.push_back({"ONNX", "unsupported operators", {{"m.onnx", m.bytes()}}, {"info", "--model", "m.onnx"}});
  }
  c.push_back({"ONNX", "missing initializer (Conv weight not defined)",
               {{"m.onnx", conv_model({1, 3, 8, 8}, {4, 3, 3, 3}, false)}}, {"info", "--model", "m.onnx"}});
  {
    OnnxModel m;
    m.input("x", {1, 4}).output("y");
    m.node("Add", {"x", "b"}, {"a"}, "first");
    m.node("Relu", {"a"}, {"b"}, "second");
    m.node("Relu", {"b"}, {"y"}, "third");
    c.push_back({"ONNX", "cycle in the graph", {{"m.onnx", m.bytes()}}, {"info", "--model", "m.onnx"}});
  }
  c.push_back({"ONNX", "2^62 dimension (tensor of more than 2^63 elements)",
               {{"m.onnx", conv_model({1, 3, k2p62, 8}, {4, 3, 3, 3})}}, {"info", "--model", "m.onnx"}});
  {
    OnnxModel m;
    raw_input(m, "a", {int64_t{1} << 30, int64_t{1} << 30});
    raw_input(m, "b", {int64_t{1} << 30, int64_t{1} << 30});
    m.output("y");
    m.node("Gemm", {"a", "b"}, {"y"}, "fc");
    c.push_back({"ONNX", "MAC count overflow (2^30 x 2^30 x 2^30 Gemm)", {{"m.onnx", m.bytes()}},
                 {"info", "--model", "m.onnx"}});
    OnnxModel m2;
    raw_input(m2, "a", {int64_t{1} << 30, int64_t{1} << 14});
    raw_input(m2, "b", {int64_t{1} << 14, int64_t{1} << 14});
    m2.output("y");
    m2.node("Gemm", {"a", "b"}, {"y"}, "fc");
    c.push_back({"ONNX", "layer too large to time (2^58 MACs on an 8x8 array)", {{"m.onnx", m2.bytes()}, {"hw.yaml", kYaml}},
                 {"simulate", "--hw", "hw.yaml", "--model", "m.onnx"}});
  }
  c.push_back({"ONNX", "negative dimension", {{"m.onnx", conv_model({1, 3, -8, 8}, {4, 3, 3, 3})}},
               {"info", "--model", "m.onnx"}});
  c.push_back({"ONNX", "zero-sized input (window larger than the input)",
               {{"m.onnx", conv_model({1, 3, 0, 8}, {4, 3, 3, 3})}}, {"info", "--model", "m.onnx"}});
  c.push_back({"ONNX", "rank mismatch (4-D input, 3-D weight)", {{"m.onnx", conv_model({1, 3, 8, 8}, {4, 3, 3})}},
               {"info", "--model", "m.onnx"}});
  {
    OnnxModel m;
    m.input("x", {1, 4}).output("y");
    auto* t = m.init("w", {4}, TensorProto::FLOAT);
    t->set_data_location(TensorProto::EXTERNAL);
    auto* kv = t->add_external_data();
    kv->set_key("location");
    kv->set_value("weights.bin");
    m.node("Add", {"x", "w"}, {"y"}, "add");
    c.push_back({"ONNX", "external data initializer", {{"m.onnx", m.bytes()}}, {"info", "--model", "m.onnx"}});
  }
  {
    OnnxModel m;
    m.input("x", {1, 4}).output("y");
    m.init_i64("shp", {1}, {int64_t{1} << 40});
    m.init_i64("idx", {1}, {0});
    auto* cos = m.node("ConstantOfShape", {"shp"}, {"big"}, "cos");
    auto* v = qsim::testing::attr_t(cos, "value");
    v->set_data_type(TensorProto::INT64);
    v->add_dims(1);
    v->add_int64_data(4);
    m.node("Gather", {"big", "idx"}, {"s"}, "gather");
    m.node("Reshape", {"x", "s"}, {"y"}, "reshape");
    c.push_back({"ONNX", "constant folding would allocate 8 TiB (ConstantOfShape of 2^40 int64)",
                 {{"m.onnx", m.bytes()}}, {"info", "--model", "m.onnx"}, "QSIM_MEM_LIMIT=1G"});
  }
  {
    OnnxModel m;
    m.input("x", {1, 1}).output("y");
    m.init_f("w", {1, 65536}, std::vector<float>(65536, 0.25f));
    m.node("Gemm", {"x", "w"}, {"y"}, "fc");
    c.push_back({"ONNX + memory limit", "weights (256 KiB) above --mem-limit 64K",
                 {{"m.onnx", m.bytes()}, {"x.npy", qsim::npy_bytes(qsim::Tensor(qsim::DType::kFloat32, {1, 1}))}},
                 {"run", "--model", "m.onnx", "--input", "x.npy", "--output", "y.npy", "--mem-limit", "64K"}});
  }
  {
    OnnxModel m;
    m.input("x", {1, 4}).output("y");
    m.init_i64("pads", {4}, {0, 0, 0, int64_t{1} << 20});
    m.node("Pad", {"x", "pads"}, {"y"}, "pad");
    c.push_back({"ONNX + memory limit", "executor arena above --mem-limit (Pad to 2^20 floats, limit 1M)",
                 {{"m.onnx", m.bytes()}, {"x.npy", qsim::npy_bytes(qsim::Tensor(qsim::DType::kFloat32, {1, 4}))}},
                 {"run", "--model", "m.onnx", "--input", "x.npy", "--output", "y.npy", "--mem-limit", "1M"}});
  }
  c.push_back({"memory limit", "malformed QSIM_MEM_LIMIT", {{"m.onnx", good_onnx}}, {"info", "--model", "m.onnx"},
               "QSIM_MEM_LIMIT=lots"});
  c.push_back({"memory limit", "malformed --mem-limit", {{"m.onnx", good_onnx}},
               {"run", "--model", "m.onnx", "--output", "y.npy", "--mem-limit", "0"}});

  // ---- hardware YAML ----
  c.push_back({"HW YAML", "unknown key", {{"hw.yaml", kYaml + "array2: {rows: 4}\n"}}, {"hw", "--hw", "hw.yaml"}});
  {
    std::string y = kYaml;
    y.replace(y.find("rows: 8"), 7, "rows: eight");
    c.push_back({"HW YAML", "wrong type (rows: eight)", {{"hw.yaml", y}}, {"hw", "--hw", "hw.yaml"}});
    std::string z = kYaml;
    z.replace(z.find("rows: 8"), 7, "rows: 0");
    c.push_back({"HW YAML", "zero (rows: 0)", {{"hw.yaml", z}}, {"hw", "--hw", "hw.yaml"}});
    std::string d = kYaml;
    d.replace(d.find("dataflow: ws"), 12, "dataflow: ws, dataflow: os");
    c.push_back({"HW YAML", "duplicate key", {{"hw.yaml", d}}, {"hw", "--hw", "hw.yaml"}});
  }
  c.push_back({"HW YAML", "missing required field (memory)", {{"hw.yaml", kYaml.substr(0, kYaml.find("memory:"))}},
               {"hw", "--hw", "hw.yaml"}});
  c.push_back({"HW YAML", "non-power-of-two (memory.word_bits: 12)", {{"hw.yaml", kYaml}},
               {"hw", "--hw", "hw.yaml", "--set", "memory.word_bits=12"}});
  c.push_back({"HW YAML", "bad syntax (unclosed bracket)", {{"hw.yaml", "array: {rows: 8, cols: [8\n"}},
               {"hw", "--hw", "hw.yaml"}});
  c.push_back({"HW YAML", "out of range (array.rows: 2^62)", {{"hw.yaml", kYaml}},
               {"hw", "--hw", "hw.yaml", "--set", "array.rows=4611686018427387904"}});

  // ---- SCALE-Sim .cfg ----
  c.push_back({"SCALE-Sim cfg", "unknown key", {{"r.cfg", kCfg + "Bogus: 1\n"}}, {"hw", "--scalesim-cfg", "r.cfg"}});
  {
    std::string v = kCfg;
    v.replace(v.find("ArrayHeight: 8"), 14, "ArrayHeight: -8");
    c.push_back({"SCALE-Sim cfg", "negative ArrayHeight", {{"r.cfg", v}}, {"hw", "--scalesim-cfg", "r.cfg"}});
  }
  c.push_back({"SCALE-Sim cfg", "missing section [run_presets]", {{"r.cfg", kCfg.substr(0, kCfg.find("[run_presets]"))}},
               {"hw", "--scalesim-cfg", "r.cfg"}});

  // ---- SCALE-Sim topology ----
  c.push_back({"SCALE-Sim topology", "non-numeric field", {{"t.csv", kTopoHeader + "Conv1,8,eight,3,3,3,4,1,\n"}},
               {"info", "--model", "t.csv"}});
  c.push_back({"SCALE-Sim topology", "filter larger than the input", {{"t.csv", kTopoHeader + "Conv1,2,2,5,5,3,4,1,\n"}},
               {"info", "--model", "t.csv"}});
  c.push_back({"SCALE-Sim topology", "2^62 sizes",
               {{"t.csv", kTopoHeader + "Conv1,4611686018427387904,4611686018427387904,1,1,4,4,1,\n"}},
               {"info", "--model", "t.csv"}});

  // ---- alloc.json ----
  c.push_back({"alloc.json", "invalid JSON", {{"t.csv", tiny_csv}, {"hw.yaml", kYaml}, {"a.json", "{\"layers\": [\n"}},
               {"simulate", "--hw", "hw.yaml", "--topology", "t.csv", "--precision", "a.json"}});
  c.push_back({"alloc.json", "width outside 1..32",
               {{"t.csv", tiny_csv}, {"hw.yaml", kYaml},
                {"a.json", R"({"layers": [{"name": "Conv1", "wbits": 0, "abits": 8}]})"}},
               {"simulate", "--hw", "hw.yaml", "--topology", "t.csv", "--precision", "a.json"}});
  c.push_back({"alloc.json", "compute layer missing", {{"t.csv", tiny_csv}, {"hw.yaml", kYaml}, {"a.json", R"({"layers": []})"}},
               {"simulate", "--hw", "hw.yaml", "--topology", "t.csv", "--precision", "a.json"}});
  c.push_back({"alloc.json", "number too large for a double (1e999)",
               {{"t.csv", tiny_csv}, {"hw.yaml", kYaml},
                {"a.json", R"({"layers": [{"name": "Conv1", "wbits": 8, "abits": 8, "scale": 1e999}]})"}},
               {"simulate", "--hw", "hw.yaml", "--topology", "t.csv", "--precision", "a.json"}});

  // ---- .npy ----
  const std::string f4 = "{'descr': '<f4', 'fortran_order': False, 'shape': ";
  c.push_back({".npy", "truncated data", {{"m.onnx", good_onnx}, {"x.npy", npy_header(f4 + "(1, 3, 8, 8), }") + "abcd"}},
               {"run", "--model", "m.onnx", "--input", "x.npy", "--output", "y.npy"}});
  c.push_back({".npy", "header shape of 2^62 elements",
               {{"m.onnx", good_onnx}, {"x.npy", npy_header(f4 + "(4611686018427387904,), }") + "abcd"}},
               {"run", "--model", "m.onnx", "--input", "x.npy", "--output", "y.npy"}});
  c.push_back({".npy", "not a .npy file", {{"m.onnx", good_onnx}, {"x.npy", "hello"}},
               {"run", "--model", "m.onnx", "--input", "x.npy", "--output", "y.npy"}});
  c.push_back({".npy", "unsupported dtype (object)",
               {{"m.onnx", good_onnx}, {"x.npy", npy_header("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }")}},
               {"run", "--model", "m.onnx", "--input", "x.npy", "--output", "y.npy"}});

  // ---- IDX (Fashion-MNIST folder) ----
  const std::string labels = idx(0x08, {2}, std::string("\x01\x02", 2));
  c.push_back({"IDX", "dimensions of 2^32-1 (product overflows)",
               {{"m.onnx", good_onnx},
                {"fm/t10k-images-idx3-ubyte", idx(0x08, {0xffffffff, 0xffffffff, 0xffffffff}, "")},
                {"fm/t10k-labels-idx1-ubyte", labels}},
               {"eval", "--model", "m.onnx", "--data", "fashion-mnist:fm"}});
  {
    const std::string gz = gzip(idx(0x08, {2, 28, 28}, std::string(2 * 28 * 28, '\x10')));
    c.push_back({"IDX", "truncated gzip stream",
                 {{"m.onnx", good_onnx},
                  {"fm/t10k-images-idx3-ubyte.gz", gz.substr(0, gz.size() / 2)},
                  {"fm/t10k-labels-idx1-ubyte", labels}},
                 {"eval", "--model", "m.onnx", "--data", "fashion-mnist:fm"}});
  }
  c.push_back({"IDX", "unknown element type",
               {{"m.onnx", good_onnx},
                {"fm/t10k-images-idx3-ubyte", idx(0x0A, {2, 2, 2}, std::string(8, '\0'))},
                {"fm/t10k-labels-idx1-ubyte", labels}},
               {"eval", "--model", "m.onnx", "--data", "fashion-mnist:fm"}});

  // ---- paths and outputs ----
  c.push_back({"paths", "missing model file", {}, {"info", "--model", "nothere.onnx"}});
  c.push_back({"paths", "model path is a directory", {{"d.onnx/keep", ""}}, {"info", "--model", "d.onnx"}});
  c.push_back({"paths", "unknown model extension", {{"m.txt", "x"}}, {"info", "--model", "m.txt"}});
  c.push_back({"outputs", "output into a missing directory", {{"t.csv", tiny_csv}, {"hw.yaml", kYaml}},
               {"simulate", "--hw", "hw.yaml", "--topology", "t.csv", "--csv", "missing/out.csv"}});
  c.push_back({"outputs", "unwritable output path (a file used as a directory)",
               {{"t.csv", tiny_csv}, {"hw.yaml", kYaml}},
               {"simulate", "--hw", "hw.yaml", "--topology", "t.csv", "--json", "t.csv/out.json"}});
  c.push_back({"outputs", "second output fails: the first is not written either",
               {{"t.csv", tiny_csv}, {"hw.yaml", kYaml}},
               {"simulate", "--hw", "hw.yaml", "--topology", "t.csv", "--csv", "ok.csv", "--json", "missing/out.json"}});
  c.push_back({"command line", "width out of range (--bits 99)", {{"t.csv", tiny_csv}, {"hw.yaml", kYaml}},
               {"simulate", "--hw", "hw.yaml", "--topology", "t.csv", "--bits", "99"}});
  for (auto* family : {output_path_cases, input_path_cases, number_cases, list_cases, choice_cases, file_kind_cases})
    for (Case& k : family()) c.push_back(std::move(k));
  return c;
}

struct Result {
  int exit_code = -1;  // -1: killed by a signal
  int signal = 0;
  std::string out, err;
  std::set<std::string> new_files, changed_files, removed_files;
};

// Every file and folder under `dir` with the bytes of the files (links by target).
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> s;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
    const std::string rel = fs::relative(it->path(), dir).string();
    if (it->is_symlink()) s[rel] = "-> " + fs::read_symlink(it->path()).string();
    else if (it->is_directory()) s[rel] = "<folder>";
    else s[rel] = slurp(it->path());
  }
  return s;
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char ch : s) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return q + "'";
}

// In the sanitizer build, the cycle-level backend (qsim-cycle) runs SystemC threads
// on coroutine stacks that ASan does not know (Debian's libsystemc carries no ASan
// stack annotations); when SystemC unwinds them ASan prints a three-line notice,
// "WARNING: ASan is ignoring requested __asan_handle_no_return", once per process.
// It is not a finding and not qsim's output: it is taken out before the one-line
// check. Any real sanitizer report still fails the case ("Sanitizer" check below).
std::string without_asan_stack_notice(std::string err) {
  const std::string_view marker = "WARNING: ASan is ignoring requested __asan_handle_no_return";
  const std::size_t at = err.find(marker);
  if (at == std::string::npos) return err;
  const std::size_t begin = err.rfind('\n', at) == std::string::npos ? 0 : err.rfind('\n', at) + 1;
  std::size_t end = begin;
  for (int line = 0; line < 3 && end != std::string::npos; ++line) {
    end = err.find('\n', end);
    if (end != std::string::npos) ++end;
  }
  err.erase(begin, end == std::string::npos ? std::string::npos : end - begin);
  return err;
}

Result run_in(const fs::path& dir, const std::vector<std::string>& args, const std::string& env = {}) {
  std::string cmd = "cd " + quote(dir.string()) + " && env -u QSIM_MEM_LIMIT " + env + " " + quote(QSIM_BINARY);
  for (const auto& a : args) {
    cmd += ' ';  // appended piecewise: "literal" + string&& trips GCC 12's -Wrestrict
    cmd += quote(a);
  }
  cmd += " >" + quote((dir.parent_path() / (dir.filename().string() + ".stdout")).string());
  cmd += " 2>" + quote((dir.parent_path() / (dir.filename().string() + ".stderr")).string());
  const int status = std::system(cmd.c_str());
  Result r;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  r.out = slurp(dir.parent_path() / (dir.filename().string() + ".stdout"));
  r.err = without_asan_stack_notice(slurp(dir.parent_path() / (dir.filename().string() + ".stderr")));
  fs::remove(dir.parent_path() / (dir.filename().string() + ".stdout"));
  fs::remove(dir.parent_path() / (dir.filename().string() + ".stderr"));
  return r;
}

void make_files(const fs::path& dir, const std::vector<std::pair<std::string, std::string>>& files) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const auto& [name, bytes] : files) {
    if (bytes.rfind(kLink, 0) == 0) {
      fs::create_directories((dir / name).parent_path());
      fs::create_symlink(bytes.substr(std::strlen(kLink)), dir / name);
    } else {
      write(dir / name, bytes);
    }
  }
}

// Runs a case in a fresh folder `dir`; stdout and stderr go beside it, so the
// folder holds only the case's files and whatever qsim leaves.
Result run_case(const Case& c, const fs::path& dir) {
  make_files(dir, c.files);
  const auto before = snapshot(dir);
  Result r = run_in(dir, c.args, c.env);
  const auto after = snapshot(dir);
  for (const auto& [f, bytes] : after) {
    const auto it = before.find(f);
    if (it == before.end()) r.new_files.insert(f);
    else if (it->second != bytes) r.changed_files.insert(f);
  }
  for (const auto& [f, bytes] : before)
    if (!after.count(f)) r.removed_files.insert(f);
  return r;
}

std::string cell(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  std::string out;
  for (char ch : s) {
    if (ch == '|') out += "\\|";
    else if (ch == '\n') out += "<br>";
    else out += ch;
  }
  return out;
}

std::string command_line(const Case& c) {
  std::string s = c.env.empty() ? "" : c.env + " ";
  s += "qsim";
  for (const auto& a : c.args) s += " " + a;
  return s;
}

constexpr const char* kBegin = "<!-- robustness-table:begin (generated by tests/robustness/robustness_test.cpp) -->";
constexpr const char* kEnd = "<!-- robustness-table:end -->";

TEST(Robustness, EveryBadInputExitsTwoWithOneLineAndNoOutput) {
  const fs::path root = fs::temp_directory_path() / ("qsim_robustness_" + std::to_string(::getpid()));
  const auto all = cases();
  ASSERT_GE(all.size(), 300u);
  std::string table = "| # | input | bad input | command | exit | what qsim printed (stderr) |\n";
  table += "|---|---|---|---|---|---|\n";
  std::set<std::string> kinds;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const Case& c = all[i];
    SCOPED_TRACE(c.input + ": " + c.what);
    kinds.insert(c.input + ": " + c.what);
    const Result r = run_case(c, root / std::to_string(i));
    EXPECT_EQ(r.signal, 0) << "killed by signal " << r.signal << "\n" << r.err;
    EXPECT_EQ(r.exit_code, 2) << r.err;
    const std::size_t lines = static_cast<std::size_t>(std::count(r.err.begin(), r.err.end(), '\n'));
    EXPECT_EQ(lines, 1u) << "stderr must be exactly one line:\n" << r.err;
    EXPECT_EQ(r.err.rfind("qsim: error: ", 0), 0u) << r.err;
    EXPECT_EQ(r.err.find("Sanitizer"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << "stdout: " << r.out;
    const auto names = [](const std::set<std::string>& files) {
      std::string s;
      for (const auto& f : files) s += f.substr(0, 80) + " ";
      return s;
    };
    EXPECT_TRUE(r.new_files.empty()) << "files left behind: " << names(r.new_files);
    EXPECT_TRUE(r.changed_files.empty()) << "inputs changed: " << names(r.changed_files);
    EXPECT_TRUE(r.removed_files.empty()) << "files removed: " << names(r.removed_files);
    // The line names what is wrong: an option, a file of the case, or the variable.
    bool named = false;
    for (const std::string& a : c.args) {
      const std::string v = a.find(':') != std::string::npos ? a.substr(a.find(':') + 1) : a;  // npy:FILE
      for (const std::string& w : {a, v})
        if (w.size() >= 2 && r.err.find(w.substr(0, 60)) != std::string::npos) named = true;
    }
    for (const auto& [f, bytes] : c.files)
      if (r.err.find(f) != std::string::npos) named = true;
    if (!c.env.empty() && r.err.find(c.env.substr(0, c.env.find('='))) != std::string::npos) named = true;
    if (r.err.find("model '") != std::string::npos || r.err.find("sweep point") != std::string::npos) named = true;
    EXPECT_TRUE(named) << "the message names no option or file of the command: " << r.err;
    const std::string shown = r.err.rfind("qsim: error: ", 0) == 0 ? r.err.substr(13) : r.err;
    table += fmt::format("| {} | {} | {} | `{}` | {} | {} |\n", i + 1, cell(c.input), cell(c.what),
                         cell(command_line(c)), r.signal ? "signal " + std::to_string(r.signal)
                                                         : std::to_string(r.exit_code),
                         cell(shown));
  }
  EXPECT_EQ(kinds.size(), all.size()) << "every row is a different kind of bad input";
  fs::remove_all(root);

  const fs::path doc = fs::path(QSIM_SOURCE_DIR) / "docs" / "robustness.md";
  std::string text = slurp(doc);
  const auto b = text.find(kBegin), e = text.find(kEnd);
  ASSERT_NE(b, std::string::npos) << doc << " lacks the table markers";
  ASSERT_NE(e, std::string::npos) << doc << " lacks the table markers";
  const std::string current = text.substr(b + std::strlen(kBegin) + 1, e - b - std::strlen(kBegin) - 1);
  if (std::getenv("QSIM_UPDATE_ROBUSTNESS")) {
    text.replace(b + std::strlen(kBegin) + 1, e - b - std::strlen(kBegin) - 1, table);
    qsim::write_file_atomic(doc.string(), text);
    std::cout << "rewrote the table in " << doc << " (" << all.size() << " rows)\n";
  } else {
    EXPECT_EQ(current, table) << "docs/robustness.md is out of date: run QSIM_UPDATE_ROBUSTNESS=1 "
                                 "build/tests/robustness_tests and review the diff";
  }
}

// Each command of commands() succeeds on base_files() with every output it can
// write, so a row of the table fails for the one thing it changes.
TEST(Robustness, BaseCommandsSucceed) {
  const fs::path root = fs::temp_directory_path() / ("qsim_robustness_base_" + std::to_string(::getpid()));
  for (const Command& cmd : commands()) {
    SCOPED_TRACE(cmd.label);
    std::vector<std::string> args = cmd.args;
    for (const auto& [opt, file] : cmd.outputs) args = set_opt(args, opt, file);
    const fs::path dir = root / "w";
    make_files(dir, base_files());
    const auto before = snapshot(dir);
    const Result r = run_in(dir, args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    for (const auto& [opt, file] : cmd.outputs) EXPECT_TRUE(fs::exists(dir / file)) << opt << " " << file;
    const auto after = snapshot(dir);
    for (const auto& [f, bytes] : before) EXPECT_EQ(after.at(f), bytes) << f << " changed";
  }
  fs::remove_all(root);
}

}  // namespace
