#include "app/html_report.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>

#include <fmt/format.h>

#include "app/report.h"
#include "graph/error.h"
#include "graph/file_util.h"

namespace qsim::app {

namespace {

namespace fs = std::filesystem;

// qsim --json's result: totals and a layer object per row (an alloc.json or a
// sensitivity file also has "layers", but neither totals nor layer objects).
bool is_run(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("layers") || !j["layers"].is_array()) return false;
  for (const char* k : {"total_cycles", "latency_ms", "energy_uj"})
    if (!j.contains(k) || !j[k].is_number()) return false;
  for (const auto& l : j["layers"])
    if (!l.is_object() || !l.contains("name") || !l["name"].is_string()) return false;
  return true;
}
bool is_sweep(const nlohmann::json& j) {
  return j.is_object() && j.value("kind", "") == "sweep" && j.contains("points") && j["points"].is_array() &&
         j.contains("axes") && j["axes"].is_array();
}
// qsim search's summary.json.
bool is_search(const nlohmann::json& j) {
  return j.is_object() && j.value("format", "") == "qsim-search" && j.contains("front") && j["front"].is_array() &&
         j.contains("best") && j["best"].is_object() && j.contains("baselines") && j["baselines"].is_array();
}

std::string esc(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

double num(const nlohmann::json& o, const char* key) {
  const auto it = o.find(key);
  return it != o.end() && it->is_number() ? it->get<double>() : 0.0;
}

std::string text_of(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// Colours of the latency parts and of the two widths.
constexpr const char* kCompute = "#4e79a7";
constexpr const char* kStall = "#e15759";
constexpr const char* kVector = "#f28e2b";
constexpr const char* kWeights = "#59a14f";
constexpr const char* kActs = "#b07aa1";

std::string legend(std::initializer_list<std::pair<const char*, const char*>> items) {
  std::string s = "<p class=\"legend\">";
  for (const auto& [colour, label] : items)
    s += fmt::format("<span><i style=\"background:{}\"></i>{}</span>", colour, label);
  return s + "</p>\n";
}

// Per-layer latency: one horizontal bar per layer, compute + stall + vector cycles.
std::string latency_chart(const nlohmann::json& run) {
  const auto& layers = run["layers"];
  double max_total = 0;
  std::size_t name_chars = 4;
  for (const auto& l : layers) {
    max_total = std::max(max_total, num(l, "total_cycles"));
    name_chars = std::max(name_chars, l.value("name", std::string()).size());
  }
  const double label_w = std::min<double>(260, 7.0 * static_cast<double>(name_chars) + 10);
  const double plot_w = 640, row_h = 14, top = 4;
  const double height = top + row_h * static_cast<double>(layers.size()) + 24;
  std::string s = fmt::format(
      "<svg class=\"chart latency\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "viewBox=\"0 0 {} {}\">\n",
      label_w + plot_w + 90, height, label_w + plot_w + 90, height);
  double y = top;
  for (const auto& l : layers) {
    const double total = num(l, "total_cycles"), stall = num(l, "stall_cycles"), vec = num(l, "vector_cycles");
    const double compute = std::max(0.0, total - stall - vec);
    const std::string name = l.value("name", std::string());
    s += fmt::format("<g class=\"layer-bar\"><title>{}: {} cycles (compute {}, stall {}, vector {})</title>\n",
                     esc(name), total, compute, stall, vec);
    s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n", label_w - 6, y + row_h - 4,
                     esc(name));
    double x = label_w;
    for (const auto& [part, colour, cls] :
         {std::tuple{compute, kCompute, "compute"}, std::tuple{stall, kStall, "stall"},
          std::tuple{vec, kVector, "vector"}}) {
      if (part <= 0 || max_total <= 0) continue;
      const double w = std::max(0.5, part / max_total * plot_w);
      s += fmt::format("<rect class=\"seg {}\" x=\"{:.2f}\" y=\"{}\" width=\"{:.2f}\" height=\"{}\" fill=\"{}\"/>\n",
                       cls, x, y + 1, w, row_h - 2, colour);
      x += w;
    }
    s += fmt::format("<text class=\"value\" x=\"{:.2f}\" y=\"{}\">{}</text></g>\n", x + 4, y + row_h - 4,
                     static_cast<int64_t>(total));  // cycles: whole numbers
    y += row_h;
  }
  s += fmt::format("<text x=\"{}\" y=\"{}\">cycles (longest {})</text>\n", label_w, y + 16,
                   static_cast<int64_t>(max_total));
  return s + "</svg>\n";
}

// Bits per compute layer: a weight bar and an activation bar per layer.
std::string bits_chart(const nlohmann::json& run) {
  std::vector<const nlohmann::json*> layers;
  for (const auto& l : run["layers"])
    if (l.value("is_compute", true)) layers.push_back(&l);
  double max_bits = 8;
  for (const auto* l : layers) max_bits = std::max({max_bits, num(*l, "wbits"), num(*l, "abits")});
  const double group_w = std::max(8.0, std::min(28.0, 760.0 / std::max<double>(1, layers.size())));
  const double plot_h = 140, left = 34, top = 8;
  const double width = left + group_w * static_cast<double>(layers.size()) + 10;
  std::string s = fmt::format(
      "<svg class=\"chart bits\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "viewBox=\"0 0 {} {}\">\n",
      width, plot_h + top + 30, width, plot_h + top + 30);
  for (double b = 0; b <= max_bits; b += max_bits > 8 ? 4 : 2) {
    const double y = top + plot_h - b / max_bits * plot_h;
    s += fmt::format("<line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" class=\"grid\"/><text x=\"{}\" "
                     "y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n",
                     left, width - 10, y, y, left - 4, y + 4, b);
  }
  double x = left;
  for (const auto* l : layers) {
    const std::string name = l->value("name", std::string());
    s += fmt::format("<g><title>{}: {}-bit weights, {}-bit activations</title>\n", esc(name), num(*l, "wbits"),
                     num(*l, "abits"));
    const double bar_w = (group_w - 2) / 2;
    for (const auto& [bits, colour, cls] :
         {std::tuple{num(*l, "wbits"), kWeights, "w"}, std::tuple{num(*l, "abits"), kActs, "a"}}) {
      const double h = bits / max_bits * plot_h;
      s += fmt::format("<rect class=\"bits-bar {}\" x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\" "
                       "fill=\"{}\"/>\n",
                       cls, x + (cls[0] == 'w' ? 0 : bar_w), top + plot_h - h, bar_w, h, colour);
    }
    s += "</g>\n";
    x += group_w;
  }
  s += fmt::format("<text x=\"{}\" y=\"{}\">compute layers in order ({})</text>\n", left, top + plot_h + 22,
                   layers.size());
  return s + "</svg>\n";
}

std::string settings_table(const nlohmann::json& result) {
  std::string s;
  if (!result.contains("provenance")) return "<p>No provenance recorded (a result from an older qsim).</p>\n";
  const auto& p = result["provenance"];
  s += "<table class=\"settings\">\n";
  const auto row = [&](std::string_view k, const std::string& v) {
    s += fmt::format("<tr><th>{}</th><td>{}</td></tr>\n", esc(k), esc(v));
  };
  row("qsim version", text_of(p.value("qsim_version", nlohmann::json(""))));
  if (p.contains("command_line")) {
    std::string cmd;
    for (const auto& a : p["command_line"]) {
      if (!cmd.empty()) cmd += ' ';
      cmd += text_of(a);
    }
    row("command line", cmd);
  }
  if (p.contains("model")) {
    row("model", text_of(p["model"].value("path", nlohmann::json(""))));
    row("model SHA-256", text_of(p["model"].value("sha256", nlohmann::json(""))));
  }
  if (p.contains("hw")) {
    row("hardware", fmt::format("{} ({})", text_of(p["hw"].value("name", nlohmann::json(""))),
                                text_of(p["hw"].value("source", nlohmann::json("")))));
    std::string sets;
    for (const auto& v : p["hw"].value("sets", nlohmann::json::array())) {
      if (!sets.empty()) sets += ' ';
      sets += text_of(v);
    }
    if (!sets.empty()) row("--set", sets);
  }
  s += "</table>\n";
  if (p.contains("hw") && p["hw"].contains("keys")) {
    s += "<details><summary>HwSpec in effect (every key)</summary><table class=\"settings\">\n";
    for (const auto& [k, v] : p["hw"]["keys"].items()) row(k, text_of(v));
    s += "</table></details>\n";
  }
  return s;
}

std::string run_section(const ReportInput& in) {
  const auto& r = in.result;
  std::string s = fmt::format("<section class=\"run\"><h2>{}</h2>\n", esc(in.name));
  s += fmt::format(
      "<p class=\"totals\">model <b>{}</b> on <b>{}</b>: {} cycles, latency <b>{} ms</b>, energy <b>{} uJ</b>, "
      "SRAM {} B, DRAM {} B</p>\n",
      esc(text_of(r.value("model", nlohmann::json("")))), esc(text_of(r.value("hw", nlohmann::json("")))),
      num(r, "total_cycles"), format_rounded(num(r, "latency_ms")), format_rounded(num(r, "energy_uj")),
      num(r, "sram_bytes"), num(r, "dram_bytes"));
  double mac = 0, sram = 0, dram = 0, vec = 0;
  for (const auto& l : r["layers"])
    if (l.contains("energy")) {
      mac += num(l["energy"], "mac_pj");
      sram += num(l["energy"], "sram_pj");
      dram += num(l["energy"], "dram_pj");
      vec += num(l["energy"], "vector_pj");
    }
  s += fmt::format("<p>energy split: MAC {} uJ, SRAM {} uJ, DRAM {} uJ, vector {} uJ</p>\n",
                   format_rounded(mac * 1e-6), format_rounded(sram * 1e-6), format_rounded(dram * 1e-6),
                   format_rounded(vec * 1e-6));
  s += "<h3>Per-layer latency</h3>\n";
  s += legend({{kCompute, "compute"}, {kStall, "stall"}, {kVector, "vector"}});
  s += latency_chart(r);
  s += "<h3>Bits per layer</h3>\n";
  s += legend({{kWeights, "weights"}, {kActs, "activations"}});
  s += bits_chart(r);
  s += "<h3>Hardware and run settings</h3>\n";
  s += settings_table(r);
  return s + "</section>\n";
}

// Blue (fast) to red (slow).
std::string heat_colour(double t) {
  t = std::clamp(t, 0.0, 1.0);
  const int r = static_cast<int>(40 + 200 * t), g = static_cast<int>(120 + 60 * (1 - std::abs(2 * t - 1))),
            b = static_cast<int>(220 - 180 * t);
  return fmt::format("#{:02x}{:02x}{:02x}", r, g, b);
}

std::string sweep_section(const ReportInput& in) {
  const auto& j = in.result;
  const auto& axes = j["axes"];
  const auto& points = j["points"];
  std::string s = fmt::format("<section class=\"sweep\"><h2>{}</h2>\n<p>{} points over ", esc(in.name),
                              points.size());
  for (std::size_t i = 0; i < axes.size(); ++i)
    s += fmt::format("{}<code>{}</code> ({} values)", i ? " x " : "", esc(text_of(axes[i]["key"])),
                     axes[i]["values"].size());
  s += "</p>\n";

  // Heatmap: latency over the first two axes, the best over any further axes.
  if (axes.size() >= 2) {
    const std::string kx = text_of(axes[1]["key"]), ky = text_of(axes[0]["key"]);
    std::vector<std::string> xs, ys;
    for (const auto& v : axes[1]["values"]) xs.push_back(text_of(v));
    for (const auto& v : axes[0]["values"]) ys.push_back(text_of(v));
    std::map<std::pair<std::string, std::string>, double> best;
    for (const auto& p : points) {
      const auto key = std::pair{text_of(p["values"][ky]), text_of(p["values"][kx])};
      const double lat = num(p, "latency_ms");
      auto [it, fresh] = best.emplace(key, lat);
      if (!fresh) it->second = std::min(it->second, lat);
    }
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (const auto& [k, v] : best) lo = std::min(lo, v), hi = std::max(hi, v);
    const double cw = 64, ch = 26, left = 110, top = 10;
    const double w = left + cw * static_cast<double>(xs.size()) + 10;
    const double h = top + ch * static_cast<double>(ys.size()) + 44;
    s += fmt::format("<h3>Latency (ms) over {} x {}{}</h3>\n", esc(ky), esc(kx),
                     axes.size() > 2 ? " (best over the other axes)" : "");
    s += fmt::format("<svg class=\"chart heatmap\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
                     "viewBox=\"0 0 {} {}\">\n",
                     w, h, w, h);
    for (std::size_t yi = 0; yi < ys.size(); ++yi) {
      s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n", left - 6,
                       top + ch * static_cast<double>(yi) + 17, esc(ys[yi]));
      for (std::size_t xi = 0; xi < xs.size(); ++xi) {
        const auto it = best.find({ys[yi], xs[xi]});
        if (it == best.end()) continue;
        const double t = hi > lo ? (it->second - lo) / (hi - lo) : 0;
        const double x = left + cw * static_cast<double>(xi), y = top + ch * static_cast<double>(yi);
        s += fmt::format("<g><title>{}={}, {}={}: {} ms</title><rect class=\"heat-cell\" x=\"{}\" y=\"{}\" "
                         "width=\"{}\" height=\"{}\" fill=\"{}\"/><text x=\"{}\" y=\"{}\" text-anchor=\"middle\" "
                         "class=\"cell-text\">{}</text></g>\n",
                         esc(ky), esc(ys[yi]), esc(kx), esc(xs[xi]), it->second, x, y, cw - 2, ch - 2,
                         heat_colour(t), x + cw / 2 - 1, y + 17, format_rounded(it->second, 3));
      }
    }
    for (std::size_t xi = 0; xi < xs.size(); ++xi)
      s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                       left + cw * static_cast<double>(xi) + cw / 2 - 1, top + ch * static_cast<double>(ys.size()) + 16,
                       esc(xs[xi]));
    s += fmt::format("<text x=\"{}\" y=\"{}\">{} (rows: {})</text>\n", left, h - 6, esc(kx), esc(ky));
    s += "</svg>\n";
  }

  // Scatter over the Pareto columns (latency vs total SRAM when none were chosen).
  std::vector<std::string> cols;
  for (const auto& c : j.value("pareto_columns", nlohmann::json::array())) cols.push_back(text_of(c));
  const std::string cx = cols.size() >= 2 ? cols[1] : "total_sram_kib";
  const std::string cy = cols.size() >= 1 ? cols[0] : "latency_ms";
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const auto& p : points) {
    x0 = std::min(x0, num(p, cx.c_str())), x1 = std::max(x1, num(p, cx.c_str()));
    y0 = std::min(y0, num(p, cy.c_str())), y1 = std::max(y1, num(p, cy.c_str()));
  }
  if (!points.empty()) {
    const double left = 70, top = 10, pw = 560, ph = 300;
    const auto sx = [&](double v) { return left + (x1 > x0 ? (v - x0) / (x1 - x0) : 0.5) * pw; };
    const auto sy = [&](double v) { return top + ph - (y1 > y0 ? (v - y0) / (y1 - y0) : 0.5) * ph; };
    s += fmt::format("<h3>{} vs {}{}</h3>\n", esc(cy), esc(cx),
                     cols.empty() ? "" : " (Pareto front marked: no other point is better on both)");
    s += legend({{kCompute, "point"}, {kStall, "Pareto front"}});
    s += fmt::format("<svg class=\"chart scatter\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
                     "viewBox=\"0 0 {} {}\">\n",
                     left + pw + 20, top + ph + 40, left + pw + 20, top + ph + 40);
    s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" class=\"frame\"/>\n", left, top, pw, ph);
    std::vector<std::pair<double, double>> front;
    for (const auto& p : points) {
      const bool on_front = p.value("pareto", false);
      const double x = sx(num(p, cx.c_str())), y = sy(num(p, cy.c_str()));
      std::string label;
      for (const auto& [k, v] : p["values"].items())
        label += fmt::format("{}{}={}", label.empty() ? "" : ", ", k, text_of(v));
      s += fmt::format("<circle class=\"sweep-point{}\" cx=\"{:.2f}\" cy=\"{:.2f}\" r=\"{}\" fill=\"{}\"><title>{}: "
                       "{} {}, {} {}</title></circle>\n",
                       on_front ? " front" : "", x, y, on_front ? 5 : 3.5, on_front ? kStall : kCompute, esc(label),
                       esc(cy), num(p, cy.c_str()), esc(cx), num(p, cx.c_str()));
      if (on_front) front.emplace_back(x, y);
    }
    std::sort(front.begin(), front.end());
    if (front.size() >= 2) {
      std::string pts;
      for (const auto& [x, y] : front) pts += fmt::format("{:.2f},{:.2f} ", x, y);
      s += fmt::format("<polyline class=\"front-line\" points=\"{}\" fill=\"none\" stroke=\"{}\"/>\n", pts, kStall);
    }
    s += fmt::format("<text x=\"{}\" y=\"{}\">{}: {} .. {}</text>\n", left, top + ph + 20, esc(cx),
                     format_rounded(x0), format_rounded(x1));
    s += fmt::format("<text x=\"4\" y=\"{}\">{}</text><text x=\"4\" y=\"{}\">{}</text>\n", top + 12,
                     format_rounded(y1), top + ph, format_rounded(y0));
    s += fmt::format("<text x=\"4\" y=\"{}\">{}</text>\n", top + ph / 2, esc(cy));
    s += "</svg>\n";
  }
  s += "<h3>Hardware and run settings</h3>\n";
  s += settings_table(j);
  return s + "</section>\n";
}

// The accuracy-latency front of a search: every front point (true top-1 on the
// test split, else the estimate) against latency, the baselines marked (uniform
// widths apart from the others), the chosen allocation ringed; then its bits per layer.
std::string search_section(const ReportInput& in) {
  const auto& j = in.result;
  const auto top1 = [](const nlohmann::json& p) {
    for (const char* k : {"true_top1", "est_top1"})
      if (p.contains(k) && p[k].is_number()) return p[k].get<double>();
    return std::numeric_limits<double>::quiet_NaN();
  };
  struct Dot {
    double lat, acc;
    std::string cls, colour, label;
  };
  std::vector<Dot> dots;
  for (const auto& p : j["front"])
    if (text_of(p.value("front", nlohmann::json(""))).find("latency") != std::string::npos)
      dots.push_back({num(p, "latency_ms"), top1(p), "front", kCompute, text_of(p.value("widths", nlohmann::json("")))});
  for (const auto& p : j["baselines"]) {
    const std::string name = text_of(p.value("name", nlohmann::json("")));
    if (!p.contains("latency_ms") || !p["latency_ms"].is_number()) continue;  // a baseline that did not run
    const bool uniform = name.rfind("uniform", 0) == 0;
    dots.push_back({num(p, "latency_ms"), top1(p), uniform ? "baseline uniform" : "baseline", uniform ? kVector : kActs,
                    name});
  }
  const auto& best = j["best"];
  dots.push_back({num(best, "latency_ms"), top1(best), "best", kStall, "chosen: " + text_of(best.value("name", nlohmann::json("")))});
  std::erase_if(dots, [](const Dot& d) { return !std::isfinite(d.lat) || !std::isfinite(d.acc); });

  std::string s = fmt::format("<section class=\"search\"><h2>{}</h2>\n", esc(in.name));
  s += fmt::format("<p class=\"totals\">model <b>{}</b> on <b>{}</b>: chosen allocation latency <b>{} ms</b>, top-1 "
                   "<b>{}%</b> (test), estimate {}%</p>\n",
                   esc(text_of(j.value("model", nlohmann::json("")))), esc(text_of(j.value("hw", nlohmann::json("")))),
                   format_rounded(num(best, "latency_ms")), format_rounded(top1(best)),
                   format_rounded(num(best, "est_top1")));
  if (const std::string source = text_of(best.value("source", nlohmann::json("chain"))); source != "chain")
    s += fmt::format("<p class=\"source\">chosen allocation: <b>{}</b>'s, which measured a lower objective on the "
                     "check samples than the chains' own choice (<b>chain_choice</b>)</p>\n",
                     esc(source));
  if (!dots.empty()) {
    double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
    for (const Dot& d : dots) x0 = std::min(x0, d.lat), x1 = std::max(x1, d.lat), y0 = std::min(y0, d.acc),
                              y1 = std::max(y1, d.acc);
    const double left = 70, top = 10, pw = 560, ph = 300;
    const auto sx = [&](double v) { return left + (x1 > x0 ? (v - x0) / (x1 - x0) : 0.5) * pw; };
    const auto sy = [&](double v) { return top + ph - (y1 > y0 ? (v - y0) / (y1 - y0) : 0.5) * ph; };
    s += "<h3>Accuracy-latency front (top-1 % against latency ms)</h3>\n";
    s += legend({{kCompute, "front"}, {kVector, "uniform baseline"}, {kActs, "other baseline"}, {kStall, "chosen"}});
    s += fmt::format("<svg class=\"chart scatter search\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" "
                     "height=\"{}\" viewBox=\"0 0 {} {}\">\n",
                     left + pw + 20, top + ph + 40, left + pw + 20, top + ph + 40);
    s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" class=\"frame\"/>\n", left, top, pw, ph);
    std::vector<std::pair<double, double>> line;
    for (const Dot& d : dots) {
      const double x = sx(d.lat), y = sy(d.acc);
      s += fmt::format("<circle class=\"search-point {}\" cx=\"{:.2f}\" cy=\"{:.2f}\" r=\"{}\" fill=\"{}\"><title>{}: "
                       "{} ms, top-1 {}%</title></circle>\n",
                       d.cls, x, y, d.cls == "best" ? 6 : 4, d.colour, esc(d.label), d.lat, d.acc);
      if (d.cls == "front") line.emplace_back(x, y);
    }
    std::sort(line.begin(), line.end());
    if (line.size() >= 2) {
      std::string pts;
      for (const auto& [x, y] : line) pts += fmt::format("{:.2f},{:.2f} ", x, y);
      s += fmt::format("<polyline class=\"front-line\" points=\"{}\" fill=\"none\" stroke=\"{}\"/>\n", pts, kCompute);
    }
    s += fmt::format("<text x=\"{}\" y=\"{}\">latency_ms: {} .. {}</text>\n", left, top + ph + 20,
                     format_rounded(x0), format_rounded(x1));
    s += fmt::format("<text x=\"4\" y=\"{}\">{}</text><text x=\"4\" y=\"{}\">{}</text>\n", top + 12,
                     format_rounded(y1), top + ph, format_rounded(y0));
    s += fmt::format("<text x=\"4\" y=\"{}\">top-1 %</text>\n", top + ph / 2);
    s += "</svg>\n";
  }
  if (best.contains("layers") && best["layers"].is_array()) {
    s += "<h3>Bits per layer of the chosen allocation</h3>\n";
    s += legend({{kWeights, "weights"}, {kActs, "activations"}});
    s += bits_chart(best);
  }
  s += "<h3>Hardware and run settings</h3>\n";
  s += settings_table(j);
  return s + "</section>\n";
}

constexpr const char* kStyle = R"(body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:32px}
h3{font-size:15px;margin:18px 0 6px}svg{display:block;font-size:11px}svg text{fill:#333}
.legend span{margin-right:14px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
.grid{stroke:#ddd}.frame{fill:none;stroke:#bbb}.cell-text{fill:#fff;font-size:10px}
table.settings{border-collapse:collapse;font-size:12px}table.settings th{text-align:left;padding:2px 10px 2px 0;
font-weight:600;vertical-align:top}table.settings td{font-family:monospace;word-break:break-all}
.note{color:#666;font-size:12px})";

}  // namespace

std::vector<ReportInput> load_report_inputs(const std::string& from) {
  std::vector<std::string> files;
  std::error_code ec;
  if (fs::is_directory(from, ec)) {
    for (const auto& e : fs::directory_iterator(from, ec))
      if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
  } else if (fs::exists(from, ec)) {
    files.push_back(from);
  } else {
    fail("--from {}: no such file or directory", from);
  }
  std::vector<ReportInput> inputs;
  for (const std::string& f : files) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(read_file(f));
    } catch (const nlohmann::json::exception& e) {
      fail("{}: not a JSON file: {}", f, e.what());
    }
    if (is_sweep(j) || is_run(j) || is_search(j))
      inputs.push_back({fs::path(f).filename().string(), std::move(j)});
    else if (!fs::is_directory(from))
      fail("{}: not a qsim run, sweep or search result (qsim --json FILE, qsim sweep --json FILE, qsim search's "
           "summary.json)",
           f);
  }
  if (inputs.empty()) fail("--from {}: no qsim run, sweep or search result (*.json) in it", from);
  return inputs;
}

std::string render_html_report(std::span<const ReportInput> inputs) {
  std::string body;
  for (const ReportInput& in : inputs) {
    if (is_sweep(in.result))
      body += sweep_section(in);
    else if (is_search(in.result))
      body += search_section(in);
    else if (is_run(in.result))
      body += run_section(in);
    else
      fail("{}: not a qsim run, sweep or search result", in.name);
  }
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>qsim report</title>\n"
      "<style>{}</style></head>\n<body>\n<h1>qsim report</h1>\n<p class=\"note\">{} result(s). Self-contained: "
      "inline SVG, no script, no network. Hover a bar or point for its numbers.</p>\n{}</body></html>\n",
      kStyle, inputs.size(), body);
}

}  // namespace qsim::app
