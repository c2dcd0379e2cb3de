// qsim quantize: post-training quantization of an ONNX classifier, evaluated against
// float32, with QDQ ONNX export and the alloc.json of the scales it used.
#include <cmath>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "app/quant_cli.h"
#include "graph/error.h"
#include "graph/model_import.h"
#include "data/npy.h"
#include "quant/qdq_export.h"

namespace qsim::app {

QuantOptions quant_options(const QuantCliOptions& q, int threads) {
  QuantOptions o;
  const auto m = parse_calib_method(q.calib);
  if (!m) fail("--calib '{}': expected minmax, percentile, mse or kl", q.calib);
  o.calib = *m;
  const auto w = parse_weight_clip(q.weight_clip);
  if (!w) fail("--weight-clip '{}': expected minmax or mse", q.weight_clip);
  o.weight_clip = *w;
  if (q.calib_samples <= 0) fail("--calib-samples {}: must be positive", q.calib_samples);
  if (!(q.percentile > 50.0 && q.percentile <= 100.0)) fail("--percentile {}: must be in (50, 100]", q.percentile);
  if (q.acc_bits < 16 || q.acc_bits > 32) fail("--acc-bits {}: must be in 16..32", q.acc_bits);
  o.calib_samples = q.calib_samples;
  o.calib_params.percentile = q.percentile;
  o.act_symmetric = q.act_symmetric;
  o.bias_correction = q.bias_correction;
  o.acc_bits = q.acc_bits;
  o.threads = threads;
  return o;
}

QuantMode quant_mode(const QuantCliOptions& q) {
  const auto m = parse_quant_mode(q.mode);
  if (!m) fail("--mode '{}': expected fake or int", q.mode);
  return *m;
}

void data_inputs(CommandFiles& files, std::string_view option, const std::string& spec) {
  if (spec.empty()) return;
  DataSpec d;
  try {
    d = parse_data_spec(spec);
  } catch (const Error&) {
    return;
  }
  if (d.kind != DataSpec::Kind::kFashionMnist) {
    files.input(option, d.path);
    return;
  }
  const std::string dir = d.path.empty() ? std::string(kFashionMnistDir) : d.path;
  files.input(option, dir);
  for (const char* split : {"train", "t10k"})
    for (const char* part : {"-images-idx3-ubyte", "-labels-idx1-ubyte"})
      for (const char* ext : {"", ".gz"})
        files.input(option, (std::filesystem::path(dir) / (std::string(split) + part + ext)).string());
}

std::unique_ptr<Dataset> open_quant_data(const std::string& spec, const std::string& labels, Split split,
                                         int64_t limit, bool need_labels, const char* flag) {
  DataSpec d;
  try {
    d = parse_data_spec(spec);
  } catch (const Error&) {
    fail("{} '{}': expected fashion-mnist[:DIR] or npy:FILE", flag, spec);
  }
  switch (d.kind) {
    case DataSpec::Kind::kFashionMnist: return load_fashion_mnist(d.path, split, limit);
    case DataSpec::Kind::kNpy:
      if (need_labels && labels.empty()) fail("{} npy:FILE needs --labels FILE", flag);
      return load_npy_dataset(d.path, need_labels ? labels : "", limit);
    case DataSpec::Kind::kImages: break;
  }
  fail("{} '{}': image folders are not a quantization data source (use fashion-mnist[:DIR] or npy:FILE)", flag, spec);
}

SpecSource quant_spec(const LayerGraph& g, const PrecisionAlloc& alloc, const std::string& alloc_source,
                      const QuantCliOptions& q, const std::string& default_calib, int threads) {
  const QuantOptions qo = quant_options(q, threads);
  SpecSource s;
  if (!q.recalibrate && q.calib_data.empty()) {
    if (auto stored = QuantSpec::from_alloc(alloc, alloc_source)) {
      s.spec = std::move(*stored);
      s.how = "scales from " + alloc_source;
      return s;
    }
  }
  const std::string source = q.calib_data.empty() ? default_calib : q.calib_data;
  if (source.empty())
    fail("{}: has no \"quantization\" section (scales); pass --calib-data SOURCE to calibrate", alloc_source);
  const auto data = open_quant_data(source, "", Split::kTrain, 0, false, "--calib-data");
  s.spec = calibrate(g, alloc, alloc_source, *data, qo);
  s.calibrated = true;
  s.how = fmt::format("{} on {} samples of {}", q.calib, s.spec.calibration.value("samples", int64_t{0}),
                      data->description());
  return s;
}

namespace {

// "<out without .onnx>.alloc.json": where --out puts the precision/scale file.
std::string alloc_path_for(const std::string& out) {
  std::filesystem::path p(out);
  if (p.extension() == ".onnx") p.replace_extension("");
  return p.string() + ".alloc.json";
}

std::string pct(int64_t k, int64_t n) { return fmt::format("{:6.2f}%  ({}/{})", n ? 100.0 * k / n : 0.0, k, n); }

}  // namespace

int run_quantize(const QuantizeOptions& o) {
  std::string text;  // printed once the files are written: nothing on stdout when they cannot be
  CommandFiles declared;
  declared.input("--model", o.model).input("--labels", o.labels).input("--precision", o.precision.precision);
  data_inputs(declared, "--data", o.data);
  data_inputs(declared, "--calib-data", o.quant.calib_data);
  declared.output("--out", o.out);
  if (!o.out.empty()) declared.output("--out", alloc_path_for(o.out));
  declared.output("--save-precision", o.save_precision).output("--json", o.json).output("--dump-logits", o.dump_logits);
  OutputFiles files = declared.check();
  const QuantMode mode = quant_mode(o.quant);
  (void)quant_options(o.quant, o.threads);  // reject bad flags before any work
  if (o.limit < 0) fail("--limit {}: must be positive", o.limit);
  const PrecisionInput& p = o.precision;
  if (!p.precision.empty() && (p.bits || p.wbits || p.abits || o.per_channel))
    fail("--precision {}: give either a precision file or --bits/--wbits/--abits/--per-channel", p.precision);
  const LayerGraph g = import_model(o.model);
  if (g.compute_layers().empty()) fail("{}: the model has no compute layers to quantize", o.model);

  PrecisionAlloc alloc;
  std::string alloc_source = "precision";
  std::string widths;
  if (!p.precision.empty()) {
    alloc = PrecisionAlloc::load(p.precision);
    alloc_source = p.precision;
    widths = "per layer from " + p.precision;
  } else {
    const int wbits = p.wbits ? p.wbits : (p.bits ? p.bits : 8);
    const int abits = p.abits ? p.abits : (p.bits ? p.bits : 8);
    alloc = PrecisionAlloc::uniform(g, wbits, abits, o.per_channel);
    widths = fmt::format("w{}/a{} {}", wbits, abits, o.per_channel ? "per-channel" : "per-tensor");
  }
  alloc.resolve(g, alloc_source);  // every compute layer listed, nothing else

  const DataSpec dspec = parse_data_spec(o.data);
  const auto test = open_quant_data(o.data, o.labels, Split::kTest, o.limit, true, "--data");
  // Calibration defaults to the train split of Fashion-MNIST, or to the evaluation data.
  const std::string default_calib =
      dspec.kind == DataSpec::Kind::kFashionMnist ? "fashion-mnist" + (dspec.path.empty() ? "" : ":" + dspec.path) : o.data;
  const SpecSource src = quant_spec(g, alloc, alloc_source, o.quant, default_calib, o.threads);

  QuantEvalOptions eo;
  eo.modes = {mode};
  if (o.compare_modes) eo.modes = {QuantMode::kFake, QuantMode::kInt};
  eo.threads = o.threads;
  eo.batch = o.batch;
  eo.keep_logits = !o.dump_logits.empty();
  // --dump-logits records the --mode executor's logits.
  if (o.compare_modes && mode == QuantMode::kInt) eo.modes = {QuantMode::kInt, QuantMode::kFake};
  const QuantEvalResult r = evaluate_quantized(g, src.spec, *test, eo);
  const QuantModeResult& q = r.modes[0];
  const QuantizedModel qm(g, src.spec);

  text += fmt::format("{}: {}, {}\n", g.name, widths, src.how);
  text += fmt::format("evaluated on {}: {} samples, mode {}\n", test->description(), r.samples, quant_mode_name(mode));
  text += fmt::format("fp32 top-1:    {}\n", pct(r.fp32_correct, r.samples));
  text += fmt::format("quant top-1:   {}\n", pct(q.top1_correct, r.samples));
  text += fmt::format("agreement:     {}  (same top-1 as fp32)\n", pct(q.agree_fp32, r.samples));
  text += fmt::format("output SQNR:   {:.2f} dB\n", q.sqnr_db());
  if (o.compare_modes)
    text += fmt::format("fake vs int:   {}  (same top-1), largest logit difference {} ({} output steps)\n",
                             pct(r.modes_agree, r.samples), r.modes_max_abs_diff, r.modes_max_diff_steps);

  const PrecisionAlloc used = src.spec.to_alloc();
  if (!o.json.empty()) {
    nlohmann::json j;
    j["model"] = o.model;
    j["data"] = test->description();
    j["samples"] = r.samples;
    j["mode"] = std::string(quant_mode_name(mode));
    j["precision"] = widths;
    if (p.precision.empty()) {
      j["wbits"] = alloc.entries().front().second.wbits;
      j["abits"] = alloc.entries().front().second.abits;
      j["per_channel"] = o.per_channel;
    }
    j["scales"] = src.how;
    j["calibrated"] = src.calibrated;
    j["calibration"] = src.spec.calibration;
    j["acc_bits"] = src.spec.acc_bits;
    j["fp32_top1"] = r.fp32_top1();
    j["fp32_correct"] = r.fp32_correct;
    j["quant_top1"] = static_cast<double>(q.top1_correct) / static_cast<double>(r.samples);
    j["quant_correct"] = q.top1_correct;
    j["agreement"] = static_cast<double>(q.agree_fp32) / static_cast<double>(r.samples);
    j["agreement_count"] = q.agree_fp32;
    j["sqnr_db"] = std::isfinite(q.sqnr_db()) ? nlohmann::json(q.sqnr_db()) : nlohmann::json(nullptr);
    j["compute_layers"] = qm.compute_layer_count();
    j["exact_fake_layers"] = qm.exact_layers();
    j["seconds"] = r.seconds;
    j["quant_seconds"] = q.seconds;
    if (o.compare_modes) {
      const QuantModeResult& other = r.modes[1];
      j[std::string(quant_mode_name(other.mode)) + "_top1"] = static_cast<double>(other.top1_correct) / r.samples;
      j["modes_agreement"] = static_cast<double>(r.modes_agree) / r.samples;
      j["modes_agreement_count"] = r.modes_agree;
      j["modes_max_abs_diff"] = r.modes_max_abs_diff;
      j["modes_max_diff_steps"] = r.modes_max_diff_steps;
      j["modes_seconds"] = {{std::string(quant_mode_name(q.mode)), q.seconds},
                            {std::string(quant_mode_name(other.mode)), other.seconds}};
    }
    files.set(o.json, j.dump(2) + "\n");
  }
  if (!o.out.empty()) {
    files.set(o.out, export_qdq_onnx(qm));
    files.set(alloc_path_for(o.out), used.to_json().dump(2) + "\n");
  }
  if (!o.save_precision.empty()) files.set(o.save_precision, used.to_json().dump(2) + "\n");
  if (!o.dump_logits.empty()) files.set(o.dump_logits, npy_bytes(*r.logits));
  files.commit();
  std::cout << text;
  if (!o.out.empty()) std::cout << fmt::format("wrote {} and {}\n", o.out, alloc_path_for(o.out));
  return 0;
}

}  // namespace qsim::app
