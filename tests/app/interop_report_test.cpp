// qsim compare, qsim report (rendered by headless Chromium), qsim export-scalesim,
// SCALE-Sim v3 sparsity columns and qsim lut --npy, through the real binary.
#include <cmath>
#include <regex>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "data/npy.h"
#include "tests/app/cli_test_util.h"

namespace qsim::test {
namespace {

const std::string kSrc = QSIM_SOURCE_DIR;
const std::string kEyeriss = kSrc + "/configs/eyeriss.yaml";
const std::string kCfg = data_dir() + "array8_calc.cfg";
const std::string kResnet = kSrc + "/models/fmnist_resnet.onnx";
const std::string kMobilenet = kSrc + "/models/fmnist_mobilenetv2.onnx";

std::string other_config() {
  for (const auto& e : fs::directory_iterator(kSrc + "/configs"))
    if (e.path().extension() == ".yaml" && e.path().string() != kEyeriss) return e.path().string();
  return "";
}

nlohmann::json simulate_json(const TempDir& tmp, std::vector<std::string> args, const std::string& name) {
  args.push_back("--json");
  args.push_back((tmp / name).string());
  const RunResult r = run_qsim(args, tmp);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(slurp(tmp / name));
}

TEST(Compare, TwoConfigsAndTwoFilesAgreeWithSeparateRuns) {
  TempDir tmp;
  const std::string b_cfg = other_config();
  ASSERT_FALSE(b_cfg.empty());
  const auto a = simulate_json(tmp, {"--hw", kEyeriss, "--model", kResnet}, "a.json");
  const auto b = simulate_json(tmp, {"--hw", b_cfg, "--model", kResnet}, "b.json");
  const RunResult hw = run_qsim({"compare", "--hw", kEyeriss, "--hw", b_cfg, "--model", kResnet, "--csv",
                                 (tmp / "c1.csv").string()},
                                tmp);
  ASSERT_EQ(hw.exit_code, 0) << hw.err;
  const RunResult files =
      run_qsim({"compare", (tmp / "a.json").string(), (tmp / "b.json").string(), "--csv", (tmp / "c2.csv").string()},
               tmp);
  ASSERT_EQ(files.exit_code, 0) << files.err;
  for (const std::string& csv : {slurp(tmp / "c1.csv"), slurp(tmp / "c2.csv")}) {
    const std::string total = fmt::format("TOTAL,total_cycles,{},{},", a["total_cycles"].get<int64_t>(),
                                          b["total_cycles"].get<int64_t>());
    EXPECT_NE(csv.find(total), std::string::npos) << csv;
    // Every layer of A, with both sides' cycles.
    for (const auto& l : a["layers"]) {
      const std::string name = l["name"];
      EXPECT_NE(csv.find(fmt::format("{},total_cycles,{},", name, l["total_cycles"].get<int64_t>())),
                std::string::npos)
          << name;
    }
  }
  // The same table on screen either way, apart from the A/B labels.
  const auto body = [](const std::string& s) { return s.substr(s.find('\n', s.find("B: ")) + 1); };
  EXPECT_EQ(body(hw.out), body(files.out));
  EXPECT_NE(hw.out.find("latency ms"), std::string::npos) << hw.out;
}

TEST(Compare, BadInputIsOneLine) {
  TempDir tmp;
  RunResult r = run_qsim({"compare", "--hw", kEyeriss, "--model", kResnet}, tmp);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--hw given 1 times"), std::string::npos) << r.err;
  write_text(tmp / "x.json", "{\"a\": 1}");
  r = run_qsim({"compare", (tmp / "x.json").string(), (tmp / "x.json").string(), "--csv", (tmp / "c.csv").string()},
               tmp);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("x.json: not a qsim result"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
  EXPECT_FALSE(fs::exists(tmp / "c.csv"));
}

// ---- the HTML report in a real browser ----

std::string chromium() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
    if (fs::exists(p)) return p;
  return "";
}

// Loads `html` in headless Chromium with a probe script appended that counts the
// chart elements whose rendered box is not empty; returns the counts.
nlohmann::json rendered_counts(const TempDir& tmp, const fs::path& html) {
  const std::string probe = R"(<script>
const n = s => [...document.querySelectorAll(s)]
  .filter(e => { const b = e.getBBox(); return b.width > 0 && b.height > 0; }).length;
const out = {layer_bars: n('g.layer-bar'), segments: n('rect.seg'), bits_bars: n('rect.bits-bar'),
             heat_cells: n('rect.heat-cell'), points: n('circle.sweep-point'), front: n('circle.sweep-point.front'),
             scripts: document.scripts.length, external: [...document.querySelectorAll('[src],link[href]')].length};
const pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
</script></body>)";
  std::string text = slurp(html);
  const auto at = text.rfind("</body>");
  EXPECT_NE(at, std::string::npos);
  text.replace(at, 7, probe);
  const fs::path probed = tmp / "probed.html";
  write_text(probed, text);
  const fs::path dom = tmp / "dom.html";
  const std::string cmd =
      fmt::format("{} --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --virtual-time-budget=2000 "
                  "--dump-dom {} > {} 2>/dev/null",
                  shell_quote(chromium()), shell_quote("file://" + probed.string()), shell_quote(dom.string()));
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  const std::string out = slurp(dom);
  const std::smatch m = [&] {
    std::smatch mm;
    std::regex_search(out, mm, std::regex("<pre id=\"probe\">([^<]*)</pre>"));
    return mm;
  }();
  EXPECT_FALSE(m.empty()) << out.substr(0, 500);
  if (m.empty()) return {};
  const std::string raw = m[1].str();
  std::string json;  // text content as serialised: quotes may come as &quot;
  for (std::size_t i = 0; i < raw.size();) {
    if (raw.compare(i, 6, "&quot;") == 0) {
      json += '"';
      i += 6;
    } else {
      json += raw[i++];
    }
  }
  return nlohmann::json::parse(json);
}

TEST(Report, RendersBarsHeatmapAndPointsInChromium) {
  ASSERT_FALSE(chromium().empty()) << "Debian's chromium is missing: scripts/setup.sh installs it";
  TempDir tmp;
  fs::create_directories(tmp / "results");
  const auto run = simulate_json(tmp, {"--hw", kEyeriss, "--model", kResnet, "--bits", "8"}, "results/run.json");
  const RunResult s = run_qsim({"sweep", "--hw", kEyeriss, "--model", kResnet, "--set", "array.rows=4,8,16",
                                "--set", "array.cols=4,8,14,32", "--pareto", "latency_ms,pes", "--json",
                                (tmp / "results/sweep.json").string(), "--out", (tmp / "s.csv").string()},
                               tmp);
  ASSERT_EQ(s.exit_code, 0) << s.err;
  const RunResult r =
      run_qsim({"report", "--from", (tmp / "results").string(), "--out", (tmp / "report.html").string()}, tmp);
  ASSERT_EQ(r.exit_code, 0) << r.err;

  std::size_t segments = 0, compute_layers = 0;
  for (const auto& l : run["layers"]) {
    const int64_t total = l["total_cycles"], stall = l["stall_cycles"], vec = l["vector_cycles"];
    segments += (total - stall - vec > 0) + (stall > 0) + (vec > 0);
    compute_layers += l["is_compute"].get<bool>() ? 1 : 0;
  }
  const auto sweep = nlohmann::json::parse(slurp(tmp / "results/sweep.json"));
  std::size_t front = 0;
  for (const auto& p : sweep["points"]) front += p["pareto"].get<bool>() ? 1 : 0;

  const auto counts = rendered_counts(tmp, tmp / "report.html");
  EXPECT_EQ(counts["layer_bars"], run["layers"].size());
  EXPECT_EQ(counts["segments"], segments);
  EXPECT_EQ(counts["bits_bars"], 2 * compute_layers);
  EXPECT_EQ(counts["heat_cells"], 12);
  EXPECT_EQ(counts["points"], 12);
  EXPECT_EQ(counts["front"], front);
  EXPECT_GE(front, 2u);
  EXPECT_EQ(counts["scripts"], 1);  // only the probe: the report itself has none
  EXPECT_EQ(counts["external"], 0);  // nothing loaded from elsewhere

  // A screenshot renders too (docs/report.png is made the same way).
  const fs::path png = tmp / "shot.png";
  const std::string shot = fmt::format(
      "{} --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars --window-size=1000,900 "
      "--screenshot={} {} >/dev/null 2>&1",
      shell_quote(chromium()), shell_quote(png.string()), shell_quote("file://" + (tmp / "report.html").string()));
  EXPECT_EQ(std::system(shot.c_str()), 0);
  const std::string bytes = slurp(png);
  ASSERT_GT(bytes.size(), 10000u);
  EXPECT_EQ(bytes.substr(1, 3), "PNG");
}

TEST(Report, MainJobAndSweepWriteItDirectly) {
  TempDir tmp;
  RunResult r = run_qsim({"--hw", kEyeriss, "--model", kResnet, "--report", (tmp / "a.html").string()}, tmp);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(slurp(tmp / "a.html").find("class=\"layer-bar\""), std::string::npos);
  r = run_qsim({"sweep", "--hw", kEyeriss, "--model", kResnet, "--set", "array.rows=4,8", "--set", "array.cols=4,8",
                "--report", (tmp / "s.html").string()},
               tmp);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(slurp(tmp / "s.html").find("class=\"heat-cell\""), std::string::npos);
  // Nothing to report on: one line, exit 2, no file.
  write_text(tmp / "none.json", "[1, 2]");
  r = run_qsim({"report", "--from", (tmp / "none.json").string(), "--out", (tmp / "x.html").string()}, tmp);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("none.json: not a qsim run, sweep or search result"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp / "x.html"));
}

// qsim search --report (and qsim report on its summary.json): the accuracy-latency
// front, each baseline that ran (uniform ones apart) and the chosen point, with the
// chosen allocation's bits per layer, all from the summary the search wrote.
TEST(Report, SearchWritesTheFrontWithItsBaselines) {
  TempDir tmp;
  const RunResult r = run_qsim({"search", "--hw", kEyeriss, "--model", kResnet, "--data",
                                "npy:" + kSrc + "/models/fmnist_test100.npy", "--labels",
                                kSrc + "/models/fmnist_test100_labels.npy", "--steps", "200", "--chains", "1",
                                "--check-every", "100", "--check-samples", "20", "--calib-samples", "32", "--no-random",
                                "--out", (tmp / "so").string(), "--report", (tmp / "s.html").string()},
                               tmp);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(slurp(tmp / "so" / "summary.json"));
  const auto finite = [](const nlohmann::json& p) {
    const bool top1 = (p.contains("true_top1") && p["true_top1"].is_number()) ||
                      (p.contains("est_top1") && p["est_top1"].is_number());
    return top1 && p.contains("latency_ms") && p["latency_ms"].is_number();
  };
  std::size_t front = 0, uniform = 0, other = 0;
  for (const auto& p : j["front"])
    if (p["front"].get<std::string>().find("latency") != std::string::npos && finite(p)) ++front;
  for (const auto& p : j["baselines"])
    if (finite(p)) ++(p["name"].get<std::string>().rfind("uniform", 0) == 0 ? uniform : other);
  EXPECT_GT(front, 0u);
  EXPECT_EQ(uniform, 4u) << "w2a2, w3a3, w4a4, w8a8";
  const auto count = [](const std::string& html, const std::string& cls) {
    std::size_t n = 0;
    for (std::size_t at = 0; (at = html.find("class=\"" + cls + "\"", at)) != std::string::npos; ++at) ++n;
    return n;
  };
  const std::size_t layers = j["best"]["layers"].size();
  EXPECT_EQ(layers, 12u) << "fmnist_resnet's compute layers";
  for (const fs::path& html : {tmp / "s.html", tmp / "r.html"}) {
    if (html.filename() == "r.html") {
      const RunResult rep = run_qsim(
          {"report", "--from", (tmp / "so" / "summary.json").string(), "--out", html.string()}, tmp);
      ASSERT_EQ(rep.exit_code, 0) << rep.err;
    }
    const std::string text = slurp(html);
    EXPECT_EQ(count(text, "search-point front"), front) << html;
    EXPECT_EQ(count(text, "search-point baseline uniform"), uniform) << html;
    EXPECT_EQ(count(text, "search-point baseline"), other) << html;
    EXPECT_EQ(count(text, "search-point best"), 1u) << html;
    // Where the chosen allocation is a baseline's, the page says whose.
    EXPECT_EQ(count(text, "source"), j["best"].value("source", std::string("chain")) != "chain" ? 1u : 0u) << html;
    EXPECT_EQ(count(text, "bits-bar w"), layers) << html;
    EXPECT_EQ(count(text, "bits-bar a"), layers) << html;
  }
}

// ---- SCALE-Sim interop ----

// The exported topology and .cfg, read back by qsim, give every compute layer the
// compute cycles of the original model (same GEMM view, same array).
TEST(ExportScaleSim, RoundTripKeepsComputeCycles) {
  TempDir tmp;
  for (const std::string& model : {kResnet, kMobilenet}) {
    const auto orig = simulate_json(tmp, {"--scalesim-cfg", kCfg, "--model", model}, "orig.json");
    const RunResult e = run_qsim({"export-scalesim", "--scalesim-cfg", kCfg, "--model", model, "--out-dir",
                                  (tmp / "out").string(), "--name", "x"},
                                 tmp);
    ASSERT_EQ(e.exit_code, 0) << e.err;
    const auto back = simulate_json(
        tmp, {"--scalesim-cfg", (tmp / "out/x.cfg").string(), "--topology", (tmp / "out/x.csv").string()}, "b.json");
    std::vector<int64_t> a, b;
    for (const auto& l : orig["layers"])
      if (l["is_compute"].get<bool>()) a.push_back(l["compute_cycles"]);
    for (const auto& l : back["layers"]) b.push_back(l["compute_cycles"]);
    EXPECT_EQ(a, b) << model;
    EXPECT_EQ(orig["total_cycles"].get<int64_t>() - orig["vector_cycles"].get<int64_t>() >= 0, true);
  }
  // The depthwise layers of MobileNetV2 carry SCALE-Sim's DP marker.
  EXPECT_NE(slurp(tmp / "out/x.csv").find("_DP,"), std::string::npos);
}

TEST(ExportScaleSim, WhatSCALESimCannotStateIsRefusedOrListed) {
  TempDir tmp;
  RunResult r = run_qsim({"export-scalesim", "--hw", kEyeriss, "--model", kResnet, "--set", "memory.ifmap_kib=1.5",
                          "--out-dir", (tmp / "o").string()},
                         tmp);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("memory.ifmap_kib 1.5: SCALE-Sim takes SRAM sizes in whole kB"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp / "o"));
  r = run_qsim({"export-scalesim", "--hw", kEyeriss, "--model", kResnet, "--out-dir", (tmp / "o").string()}, tmp);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("not exported: array.clock_mhz"), std::string::npos) << r.err;
}

TEST(TopologyV3, SparsityColumnByHeader) {
  TempDir tmp;
  const std::string head = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
                           "Strides, Sparsity,\n";
  write_text(tmp / "dense.csv", head + "c1, 16, 16, 3, 3, 8, 16, 1, 4:4,\nc2, 14, 14, 3, 3, 16, 16, 2, 1:1,\n");
  write_text(tmp / "v2.csv", "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
                             "Num Filter, Strides,\nc1, 16, 16, 3, 3, 8, 16, 1,\nc2, 14, 14, 3, 3, 16, 16, 2,\n");
  const auto dense = simulate_json(tmp, {"--scalesim-cfg", kCfg, "--topology", (tmp / "dense.csv").string()}, "d.json");
  const auto v2 = simulate_json(tmp, {"--scalesim-cfg", kCfg, "--topology", (tmp / "v2.csv").string()}, "v.json");
  EXPECT_EQ(dense["total_cycles"], v2["total_cycles"]);  // the 9th column was not read as a stride
  write_text(tmp / "sparse.csv", head + "c1, 16, 16, 3, 3, 8, 16, 1, 2:4,\n");
  const RunResult r = run_qsim({"--scalesim-cfg", kCfg, "--topology", (tmp / "sparse.csv").string()}, tmp);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("sparse.csv:2: layer 'c1': Sparsity 2:4 (SCALE-Sim v3) is not modelled"), std::string::npos)
      << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST(LutNpy, ArraysMatchTheJsonTable) {
  TempDir tmp;
  const RunResult r = run_qsim({"lut", "--hw", kEyeriss, "--model", kResnet, "--bits", "2,4,8,16", "--out",
                                (tmp / "lut.json").string(), "--npy", (tmp / "lut.npy").string()},
                               tmp);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(slurp(tmp / "lut.json"));
  const Tensor cycles = read_npy((tmp / "lut.npy").string());
  const Tensor energy = read_npy((tmp / "lut.energy_pj.npy").string());
  const std::vector<int> bits = j["bits"];
  const auto& layers = j["layers"];
  ASSERT_EQ(cycles.shape(), (Shape{static_cast<int64_t>(layers.size()), 4, 4}));
  ASSERT_EQ(energy.shape(), cycles.shape());
  const auto c = cycles.data<double>();
  const auto e = energy.data<double>();
  std::size_t i = 0, unsupported = 0;
  for (const auto& name : layers)
    for (int w : bits)
      for (int a : bits) {
        const auto& cell = j["lut"][name.get<std::string>()][std::to_string(w)][std::to_string(a)];
        if (cell.is_null()) {
          EXPECT_TRUE(std::isnan(c[i]) && std::isnan(e[i]));
          ++unsupported;
        } else {
          EXPECT_EQ(c[i], cell["total_cycles"].get<double>());
          EXPECT_EQ(e[i], cell["energy_pj"].get<double>());
        }
        ++i;
      }
  EXPECT_GT(unsupported, 0u);  // 16 bits is wider than eyeriss's PE
}

}  // namespace
}  // namespace qsim::test
