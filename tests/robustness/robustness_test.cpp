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
  return c;
}

struct Result {
  int exit_code = -1;  // -1: killed by a signal
  int signal = 0;
  std::string out, err;
  std::set<std::string> new_files;
};

std::set<std::string> listing(const fs::path& dir) {
  std::set<std::string> s;
  for (const auto& e : fs::recursive_directory_iterator(dir)) s.insert(fs::relative(e.path(), dir).string());
  return s;
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char ch : s) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return q + "'";
}

Result run_case(const Case& c, const fs::path& dir) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const auto& [name, bytes] : c.files) write(dir / name, bytes);
  const auto before = listing(dir);
  std::string cmd = "cd " + quote(dir.string()) + " && env -u QSIM_MEM_LIMIT " + c.env + " " + quote(QSIM_BINARY);
  for (const auto& a : c.args) {
    cmd += ' ';  // appended piecewise: "literal" + string&& trips GCC 12's -Wrestrict
    cmd += quote(a);
  }
  cmd += " >.stdout 2>.stderr";
  const int status = std::system(cmd.c_str());
  Result r;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  r.out = slurp(dir / ".stdout");
  r.err = slurp(dir / ".stderr");
  fs::remove(dir / ".stdout");
  fs::remove(dir / ".stderr");
  for (const auto& f : listing(dir))
    if (!before.count(f)) r.new_files.insert(f);
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
  ASSERT_GE(all.size(), 25u);
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
    std::string left;
    for (const auto& f : r.new_files) left += f + " ";
    EXPECT_TRUE(r.new_files.empty()) << "files left behind: " << left;
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

}  // namespace
