#include "search/space.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "graph/error.h"
#include "graph/file_util.h"

namespace qsim {

namespace {

std::string at(const std::string& source, const YAML::Mark& m) {
  return m.is_null() ? source : fmt::format("{}:{}", source, m.line + 1);
}

// Keys whose value changes what a layer's widths mean (the options of every
// group) or which layers share a width (the fused groups): a state would not mean
// the same on two hardware points.
constexpr std::string_view kFixedKeys[] = {"pe.precision", "pe.base_bits", "pe.widths", "pe.serial",
                                           "vector.fuse_elementwise"};

double number_of(const HwValue& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* s = std::get_if<std::string>(&v); s && *s == "unlimited") return std::numeric_limits<double>::infinity();
  return std::numeric_limits<double>::quiet_NaN();
}

std::string value_text(const HwValue& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) return fmt::format("{}", *d);
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  return "?";
}

HwValue typed(const std::string& key, const YAML::Node& n, const std::string& where) {
  if (!n.IsScalar()) fail("{}: {}: expected a value, got a {}", where, key, n.IsSequence() ? "list" : "mapping");
  HwText t;
  t.kind = HwText::Kind::kScalar;
  t.scalar = n.Scalar();
  t.tag = n.Tag() == "?" ? "" : n.Tag();
  t.where = where;
  return hw_value_from_text(key, t);
}

HwAxis read_axis(const std::string& source, const YAML::Node& key_node, const YAML::Node& value) {
  HwAxis a;
  a.where = at(source, key_node.Mark());
  if (!key_node.IsScalar()) fail("{}: a key must be a plain name", a.where);
  a.key = key_node.Scalar();
  const HwKey* k = find_hw_key(a.key);
  if (!k) {
    if (is_hw_table_entry(a.key)) fail("{}: {}: table entries cannot be searched", a.where, a.key);
    fail("{}: {}", a.where, hw_unknown_key(a.key));
  }
  for (std::string_view fixed : kFixedKeys)
    if (a.key == fixed)
      fail("{}: {} cannot be searched: it changes the widths a layer can take or which layers share one; set it in the "
           "hardware file",
           a.where, a.key);
  switch (k->type) {
    case HwType::kInteger:
    case HwType::kNumber:
    case HwType::kNumberOrUnlimited: a.ordered = true; break;
    case HwType::kChoice:
    case HwType::kBool: a.ordered = false; break;
    default: fail("{}: {} ({}) cannot be searched: only numbers, choices and booleans", a.where, a.key, hw_type_name(*k));
  }

  if (value.IsSequence()) {
    for (const auto& item : value) a.values.push_back(typed(a.key, item, at(source, item.Mark())));
  } else if (value.IsMap()) {
    if (!a.ordered) fail("{}: {}: a range needs a numeric key; list the values: [{}]", a.where, a.key, "...");
    std::map<std::string, YAML::Node> f;
    for (const auto& kv : value) {
      const std::string name = kv.first.IsScalar() ? kv.first.Scalar() : "";
      if (name != "min" && name != "max" && name != "step" && name != "factor")
        fail("{}: {}: unknown range field '{}' (expected min, max and step or factor)", at(source, kv.first.Mark()),
             a.key, name);
      f[name] = kv.second;
    }
    if (!f.count("min") || !f.count("max")) fail("{}: {}: a range needs min and max", a.where, a.key);
    if (f.count("step") == f.count("factor")) fail("{}: {}: give a range either step or factor", a.where, a.key);
    const HwValue lo = typed(a.key, f["min"], at(source, f["min"].Mark()));
    const HwValue hi = typed(a.key, f["max"], at(source, f["max"].Mark()));
    const double x0 = number_of(lo), x1 = number_of(hi);
    if (!std::isfinite(x0) || !std::isfinite(x1)) fail("{}: {}: a range needs numeric min and max", a.where, a.key);
    if (x1 < x0) fail("{}: {}: empty range (min {} > max {})", a.where, a.key, x0, x1);
    const bool integer = k->type == HwType::kInteger;
    const auto push = [&](double x) {
      if (integer)
        a.values.emplace_back(static_cast<int64_t>(std::llround(x)));
      else
        a.values.emplace_back(x);
      if (a.values.size() > 4096) fail("{}: {}: more than 4096 values", a.where, a.key);
    };
    if (f.count("step")) {
      const double step = number_of(typed(a.key, f["step"], at(source, f["step"].Mark())));
      if (!(step > 0) || (integer && step != std::floor(step))) fail("{}: {}: step must be positive{}", a.where, a.key, integer ? " and whole" : "");
      for (int64_t i = 0; x0 + static_cast<double>(i) * step <= x1 * (1 + 1e-12); ++i) push(x0 + static_cast<double>(i) * step);
    } else {
      const double factor = number_of(typed(a.key, f["factor"], at(source, f["factor"].Mark())));
      if (!(factor > 1)) fail("{}: {}: factor must be greater than 1", a.where, a.key);
      if (!(x0 > 0)) fail("{}: {}: a geometric range needs min > 0", a.where, a.key);
      for (double x = x0; x <= x1 * (1 + 1e-12); x *= factor) push(x);
    }
  } else if (value.IsScalar()) {
    a.values.push_back(typed(a.key, value, at(source, value.Mark())));  // a fixed value
  } else {
    fail("{}: {}: expected a list of values or a range {{min, max, step|factor}}", a.where, a.key);
  }
  if (a.values.empty()) fail("{}: {}: empty range", a.where, a.key);
  if (a.ordered) {
    for (const HwValue& v : a.values)
      if (std::isnan(number_of(v))) fail("{}: {}: not a number: {}", a.where, a.key, value_text(v));
    std::stable_sort(a.values.begin(), a.values.end(),
                     [](const HwValue& x, const HwValue& y) { return number_of(x) < number_of(y); });
  }
  std::set<std::string> seen;
  for (const HwValue& v : a.values) {
    a.texts.push_back(value_text(v));
    if (!seen.insert(a.texts.back()).second) fail("{}: {}: the value {} is listed twice", a.where, a.key, a.texts.back());
  }
  return a;
}

}  // namespace

SearchSpaceSpec SearchSpaceSpec::read(const std::string& path) { return from_yaml_text(read_file(path), path); }

SearchSpaceSpec SearchSpaceSpec::from_yaml_text(std::string_view text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    fail("{}: invalid YAML: {}", at(source, e.mark), e.msg);
  }
  if (!root.IsMap()) fail("{}: expected a mapping with space: (and budgets:)", source);
  SearchSpaceSpec s;
  s.source = source;
  bool has_space = false;
  std::set<std::string> keys;
  for (const auto& top : root) {
    const std::string where = at(source, top.first.Mark());
    const std::string name = top.first.IsScalar() ? top.first.Scalar() : "";
    if (name == "space") {
      has_space = true;
      if (!top.second.IsMap() || top.second.size() == 0)
        fail("{}: space: expected a mapping of hardware keys to values or ranges", where);
      for (const auto& kv : top.second) {
        HwAxis a = read_axis(source, kv.first, kv.second);
        if (!keys.insert(a.key).second) fail("{}: {} is given twice", a.where, a.key);
        s.axes.push_back(std::move(a));
      }
    } else if (name == "budgets") {
      if (!top.second.IsMap()) fail("{}: budgets: expected a mapping of figure -> maximum", where);
      for (const auto& kv : top.second) {
        HwBudget b;
        b.where = at(source, kv.first.Mark());
        b.name = kv.first.IsScalar() ? kv.first.Scalar() : "";
        const auto f = find_hw_figure(b.name);
        if (!f) {
          std::string known;
          for (const HwFigure& x : hw_figures()) known += (known.empty() ? "" : ", ") + std::string(x.name);
          fail("{}: unknown budget '{}' (budgets: {})", b.where, b.name, known);
        }
        b.value = f->value;
        double m = 0;
        try {
          m = kv.second.as<double>();
        } catch (const YAML::Exception&) {
          fail("{}: budget {} must be a number", b.where, b.name);
        }
        if (!(m > 0) || !std::isfinite(m)) fail("{}: budget {} must be positive, got {}", b.where, b.name, m);
        b.max = m;
        for (const HwBudget& o : s.budgets)
          if (o.name == b.name) fail("{}: budget {} is given twice", b.where, b.name);
        s.budgets.push_back(std::move(b));
      }
    } else {
      fail("{}: unknown section '{}' (expected space: and budgets:)", where, name);
    }
  }
  if (!has_space) fail("{}: no space: section (the hardware keys to search)", source);
  return s;
}

uint64_t SearchSpaceSpec::points() const {
  uint64_t n = 1;
  for (const HwAxis& a : axes) {
    if (n > (uint64_t{1} << 62) / a.values.size()) return uint64_t{1} << 63;
    n *= a.values.size();
  }
  return n;
}

std::vector<uint16_t> SearchSpaceSpec::point(uint64_t flat) const {
  std::vector<uint16_t> idx(axes.size());
  for (std::size_t i = axes.size(); i-- > 0;) {
    idx[i] = static_cast<uint16_t>(flat % axes[i].values.size());
    flat /= axes[i].values.size();
  }
  return idx;
}

std::string SearchSpaceSpec::describe(std::span<const uint16_t> index) const {
  std::string s;
  for (std::size_t i = 0; i < axes.size(); ++i) s += (i ? ", " : "") + axes[i].key + "=" + axes[i].texts[index[i]];
  return s;
}

HwSpec hw_point(const HwConfig& base, const SearchSpaceSpec& space, std::span<const uint16_t> index) {
  HwConfig c = base;
  for (std::size_t i = 0; i < space.axes.size(); ++i)
    hw_state(c, space.axes[i].key, space.axes[i].values[index[i]], space.axes[i].where);
  return finish_hw_spec(c);
}

double budget_excess(const SearchSpaceSpec& space, const HwSpec& hw) {
  double e = 0;
  for (const HwBudget& b : space.budgets) {
    const double v = b.value(hw);
    if (v > b.max * (1 + 1e-12)) e += (v - b.max) / b.max;
  }
  return e;
}

std::vector<uint16_t> nearest_point(const SearchSpaceSpec& space, const HwSpec& hw) {
  std::vector<uint16_t> idx(space.axes.size(), 0);
  for (std::size_t i = 0; i < space.axes.size(); ++i) {
    const HwAxis& a = space.axes[i];
    const HwValue cur = hw_get(hw, a.key);
    double best = std::numeric_limits<double>::infinity();
    for (std::size_t j = 0; j < a.values.size(); ++j) {
      if (a.values[j] == cur) {
        idx[i] = static_cast<uint16_t>(j);
        break;
      }
      const double d = std::abs(number_of(a.values[j]) - number_of(cur));
      if (d < best) {  // NaN (choices) never is
        best = d;
        idx[i] = static_cast<uint16_t>(j);
      }
    }
  }
  return idx;
}

void check_space(const HwConfig& base, const SearchSpaceSpec& space, uint64_t max_points) {
  for (const HwAxis& a : space.axes)
    for (const HwValue& v : a.values) {
      HwConfig c = base;
      hw_state(c, a.key, v, a.where);
      (void)finish_hw_spec(c);  // throws "<space.yaml:line>: <problem>"
    }
  if (space.budgets.empty()) return;
  const uint64_t n = std::min(space.points(), max_points);
  for (uint64_t p = 0; p < n; ++p) {
    HwSpec hw;
    try {
      hw = hw_point(base, space, space.point(p));
    } catch (const Error&) {
      continue;  // an invalid combination meets nothing
    }
    if (budget_excess(space, hw) == 0) return;
  }
  if (n < space.points()) return;  // not all enumerated: the search finds out
  std::string b;
  for (const HwBudget& x : space.budgets) b += (b.empty() ? "" : ", ") + fmt::format("{} <= {}", x.name, x.max);
  fail("{}: no point of the space meets the budgets ({})", space.source, b);
}

}  // namespace qsim
