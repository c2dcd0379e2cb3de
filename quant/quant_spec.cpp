#include "quant/quant_spec.h"

#include <fmt/format.h>

#include "graph/error.h"

namespace qsim {

const QParams* QuantSpec::find(std::string_view tensor, int bits) const {
  for (const Act& a : activations)
    if (a.tensor == tensor && a.q.bits == bits) return &a.q;
  return nullptr;
}

void QuantSpec::set(const std::string& tensor, const QParams& q) {
  for (Act& a : activations)
    if (a.tensor == tensor && a.q.bits == q.bits) {
      a.q = q;
      return;
    }
  activations.push_back({tensor, q});
}

PrecisionAlloc QuantSpec::to_alloc() const {
  PrecisionAlloc a = alloc;
  for (const auto& [name, l] : layers) {
    if (!a.find(name)) continue;
    a.extra(name)["weight_scale"] = l.weight_scales;
    if (!l.bias_correction.empty()) a.extra(name)["bias_correction"] = l.bias_correction;
  }
  nlohmann::json acts = nlohmann::json::array();
  for (const Act& x : activations)
    acts.push_back({{"tensor", x.tensor},
                    {"bits", x.q.bits},
                    {"signed", x.q.is_signed},
                    {"scale", x.q.scale},
                    {"zero_point", x.q.zero_point}});
  nlohmann::json& q = a.section("quantization");
  q = nlohmann::json::object();
  q["acc_bits"] = acc_bits;
  q["act_scheme"] = act_symmetric ? "symmetric" : "asymmetric";
  q["calibration"] = calibration;
  q["activations"] = std::move(acts);
  return a;
}

namespace {

int json_int(const nlohmann::json& j, const char* key, std::string_view where, int64_t lo, int64_t hi) {
  if (!j.contains(key) || !j[key].is_number_integer()) fail("{}: \"{}\" must be an integer", where, key);
  const auto v = j[key].get<int64_t>();
  if (v < lo || v > hi) fail("{}: \"{}\" = {} is outside {}..{}", where, key, v, lo, hi);
  return static_cast<int>(v);
}

float positive_float(const nlohmann::json& v, std::string_view where) {
  if (!v.is_number()) fail("{}: expected a number", where);
  const double d = v.get<double>();
  if (!(d > 0.0) || !std::isfinite(d) || d > 3.0e38) fail("{}: {} is not a positive finite float", where, d);
  return static_cast<float>(d);
}

std::vector<float> float_list(const nlohmann::json& v, std::string_view where, bool positive) {
  if (!v.is_array() || v.empty()) fail("{}: expected a non-empty array of numbers", where);
  std::vector<float> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string at = fmt::format("{}[{}]", where, i);
    if (positive) {
      out.push_back(positive_float(v[i], at));
    } else {
      if (!v[i].is_number() || !std::isfinite(v[i].get<double>()) || std::abs(v[i].get<double>()) > 3.0e38)
        fail("{}: expected a finite number", at);
      out.push_back(static_cast<float>(v[i].get<double>()));
    }
  }
  return out;
}

}  // namespace

std::optional<QuantSpec> QuantSpec::from_alloc(const PrecisionAlloc& a, std::string_view source) {
  const nlohmann::json* q = a.find_section("quantization");
  if (!q) return std::nullopt;
  const std::string where = fmt::format("{}: \"quantization\"", source);
  if (!q->is_object()) fail("{} must be an object", where);
  QuantSpec s;
  s.alloc = a;
  s.acc_bits = json_int(*q, "acc_bits", where, 16, 32);
  if (q->contains("act_scheme")) {
    const auto& sch = (*q)["act_scheme"];
    if (sch != "symmetric" && sch != "asymmetric") fail("{}: \"act_scheme\" must be \"symmetric\" or \"asymmetric\"", where);
    s.act_symmetric = sch == "symmetric";
  }
  if (q->contains("calibration")) s.calibration = (*q)["calibration"];
  if (!q->contains("activations") || !(*q)["activations"].is_array()) fail("{}: missing \"activations\" array", where);
  std::size_t i = 0;
  for (const auto& e : (*q)["activations"]) {
    const std::string at = fmt::format("{}.activations[{}]", where, i++);
    if (!e.is_object() || !e.contains("tensor") || !e["tensor"].is_string()) fail("{}: needs a string \"tensor\"", at);
    QParams p;
    p.bits = json_int(e, "bits", at, kMinQuantBits, kMaxQuantBits);
    if (!e.contains("signed") || !e["signed"].is_boolean()) fail("{}: \"signed\" must be true or false", at);
    p.is_signed = e["signed"].get<bool>();
    if (!e.contains("scale")) fail("{}: missing \"scale\"", at);
    p.scale = positive_float(e["scale"], at + ".scale");
    const auto r = p.range();
    p.zero_point = json_int(e, "zero_point", at, r.lo, r.hi);
    const std::string name = e["tensor"].get<std::string>();
    if (s.find(name, p.bits)) fail("{}: tensor '{}' at {} bits appears twice", at, name, p.bits);
    s.activations.push_back({name, p});
  }
  for (const auto& [name, prec] : a.entries()) {
    const nlohmann::json* x = a.find_extra(name);
    const std::string at = fmt::format("{}: layer '{}'", source, name);
    if (!x || !x->contains("weight_scale")) fail("{}: has no \"weight_scale\" (needed with a \"quantization\" section)", at);
    Layer l;
    l.weight_scales = float_list((*x)["weight_scale"], at + ": \"weight_scale\"", true);
    if (x->contains("bias_correction"))
      l.bias_correction = float_list((*x)["bias_correction"], at + ": \"bias_correction\"", false);
    s.layers[name] = std::move(l);
  }
  return s;
}

}  // namespace qsim
