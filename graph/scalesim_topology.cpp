#include "graph/scalesim_topology.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <optional>
#include <sstream>
#include <unordered_set>

#include "graph/error.h"
#include "graph/file_util.h"

namespace qsim {

namespace {

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::vector<std::string> split_fields(const std::string& line) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = line.find(',', start);
    out.push_back(trim(std::string_view(line).substr(start, comma == std::string::npos ? std::string::npos
                                                                                        : comma - start)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  // SCALE-Sim rows end with a comma; its parser drops the last field.
  if (!out.empty() && out.back().empty()) out.pop_back();
  return out;
}

int64_t parse_positive(const std::string& field, const std::string& what, const std::string& where) {
  int64_t v = 0;
  const char* b = field.data();
  const char* e = field.data() + field.size();
  auto [p, ec] = std::from_chars(b, e, v);
  if (ec != std::errc() || p != e) fail("{}: {} '{}' is not an integer", where, what, field);
  if (v <= 0) fail("{}: {} must be positive, got {}", where, what, v);
  if (v > (int64_t{1} << 31)) fail("{}: {} = {} is out of range", where, what, v);
  return v;
}

// A SCALE-Sim v3 sparsity field: "N:M" (N non-zero of every M). Dense layers (N ==
// M, or an empty field) run as usual; a sparse one is refused, since qsim's timing
// model has no sparse dataflow and reading it densely would overstate its cycles.
void check_dense(const std::string& field, const std::string& layer, const std::string& where) {
  if (field.empty()) return;
  const auto colon = field.find(':');
  int64_t n = 0, m = 0;
  const char* b = field.data();
  const char* e = field.data() + field.size();
  const char* c = colon == std::string::npos ? e : field.data() + colon;
  const auto rn = std::from_chars(b, c, n);
  const auto rm = colon == std::string::npos ? std::from_chars_result{c, std::errc::invalid_argument}
                                             : std::from_chars(c + 1, e, m);
  if (rn.ec != std::errc() || rn.ptr != c || rm.ec != std::errc() || rm.ptr != e || n <= 0 || m <= 0 || n > m)
    fail("{}: layer '{}': Sparsity '{}' is not N:M (N non-zero of every M, 1 <= N <= M)", where, layer, field);
  if (n != m)
    fail("{}: layer '{}': Sparsity {} (SCALE-Sim v3) is not modelled by qsim; only dense layers ({}:{}) run", where,
         layer, field, m, m);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

LayerGraph import_scalesim_topology_text(const std::string& text, const std::string& source,
                                         TopologyForm form) {
  LayerGraph g;
  g.name = std::filesystem::path(source).stem().string();
  g.source = source;
  std::istringstream in(text);
  std::string line;
  int lineno = 0;
  bool header_seen = false;
  std::unordered_set<std::string> names;
  std::vector<ValueId> graph_inputs, graph_outputs;
  // SCALE-Sim v3 adds an N:M sparsity column, found by its header (never by its
  // position, where v2's optional column stride sits).
  std::optional<std::size_t> sparsity_column;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::string where = fmt::format("{}:{}", source, lineno);
    if (!header_seen) {
      // The header row is skipped, as SCALE-Sim does; it also tells the two forms apart.
      header_seen = true;
      const auto header = split_fields(line);
      for (std::size_t i = 1; i < header.size(); ++i)
        if (lower(header[i]).find("sparsity") != std::string::npos) sparsity_column = i;
      if (form == TopologyForm::kAuto) {
        const auto& h = header;
        const bool gemm = h.size() >= 4 && lower(h[1]) == "m" && lower(h[2]) == "n" && lower(h[3]) == "k";
        form = gemm ? TopologyForm::kGemm : TopologyForm::kConv;
      }
      continue;
    }
    if (trim(line).empty()) continue;
    auto f = split_fields(line);
    if (sparsity_column && *sparsity_column < f.size()) {
      check_dense(f[*sparsity_column], f.empty() ? std::string() : f[0], where);
      f.erase(f.begin() + static_cast<std::ptrdiff_t>(*sparsity_column));
    }
    const std::string name = f.empty() ? std::string() : f[0];
    if (name.empty()) fail("{}: layer name is empty", where);
    if (!names.insert(name).second) fail("{}: layer name '{}' appears twice", where, name);

    Node n;
    n.name = name;
    if (form == TopologyForm::kGemm) {
      if (f.size() != 4) fail("{}: expected 4 fields (Layer, M, N, K), got {}", where, f.size());
      const int64_t M = parse_positive(f[1], "M", where);
      const int64_t N = parse_positive(f[2], "N", where);
      const int64_t K = parse_positive(f[3], "K", where);
      const ValueId a = g.add_value({name + ".A", DType::kFloat32, {M, K}, false, std::nullopt});
      const ValueId b = g.add_value({name + ".B", DType::kFloat32, {K, N}, true, std::nullopt});
      const ValueId y = g.add_value({name + ".Y", DType::kFloat32, {M, N}, false, std::nullopt});
      n.op = OpKind::kGemm;
      n.attrs = GemmAttrs{};
      n.inputs = {a, b};
      n.outputs = {y};
      graph_inputs.push_back(a);
      graph_outputs.push_back(y);
    } else {
      if (f.size() != 8 && f.size() != 9)
        fail("{}: expected 8 fields (Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
             "Channels, Num Filter, Strides), got {}",
             where, f.size());
      const int64_t H = parse_positive(f[1], "IFMAP Height", where);
      const int64_t W = parse_positive(f[2], "IFMAP Width", where);
      const int64_t Fh = parse_positive(f[3], "Filter Height", where);
      const int64_t Fw = parse_positive(f[4], "Filter Width", where);
      const int64_t C = parse_positive(f[5], "Channels", where);
      const int64_t Nf = parse_positive(f[6], "Num Filter", where);
      const int64_t Sh = parse_positive(f[7], "Strides", where);
      const int64_t Sw = f.size() == 9 ? parse_positive(f[8], "Stride (column)", where) : Sh;
      if (Fh > H) fail("{}: Filter Height {} is larger than IFMAP Height {}", where, Fh, H);
      if (Fw > W) fail("{}: Filter Width {} is larger than IFMAP Width {}", where, Fw, W);
      // SCALE-Sim: E = ceil((H - F + S) / S), i.e. a valid convolution.
      const int64_t Eh = (H - Fh + Sh + Sh - 1) / Sh;
      const int64_t Ew = (W - Fw + Sw + Sw - 1) / Sw;
      const bool depthwise = name.find("DP") != std::string::npos;
      const int64_t group = depthwise ? C : 1;
      const int64_t cout = depthwise ? C * Nf : Nf;
      const ValueId x = g.add_value({name + ".ifmap", DType::kFloat32, {1, C, H, W}, false, std::nullopt});
      const ValueId w =
          g.add_value({name + ".filter", DType::kFloat32, {cout, C / group, Fh, Fw}, true, std::nullopt});
      const ValueId y = g.add_value({name + ".ofmap", DType::kFloat32, {1, cout, Eh, Ew}, false, std::nullopt});
      ConvAttrs a;
      a.kernel = {Fh, Fw};
      a.strides = {Sh, Sw};
      a.dilations = {1, 1};
      a.pads = {0, 0, 0, 0};
      a.group = group;
      n.op = OpKind::kConv;
      n.attrs = a;
      n.inputs = {x, w};
      n.outputs = {y};
      graph_inputs.push_back(x);
      graph_outputs.push_back(y);
    }
    g.add_node(std::move(n));
  }
  if (!header_seen) fail("{}: empty topology file", source);
  if (names.empty()) fail("{}: no layers after the header row", source);
  g.set_inputs(std::move(graph_inputs));
  g.set_outputs(std::move(graph_outputs));
  g.finalize();
  return g;
}

LayerGraph import_scalesim_topology(const std::string& path, TopologyForm form) {
  return import_scalesim_topology_text(read_file(path), path, form);
}

}  // namespace qsim
