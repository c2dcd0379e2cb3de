// qsim eval: float32 top-1/top-5 of a classifier over a labelled data set.
#include <cmath>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "app/quant_cli.h"
#include "graph/error.h"
#include "graph/model_import.h"
#include "data/dataset.h"
#include "quant/eval.h"

namespace qsim::app {

namespace {

// Image preprocessing from the flags, with the rest derived from the model's input
// (channels, crop = the input's square size, resize = crop * 256 / 224 as torchvision does).
Preprocess image_preprocess(const EvalCliOptions& o, const LayerGraph& g) {
  Preprocess p;
  if (o.layout == "nchw") {
    p.layout = Layout::kNCHW;
  } else if (o.layout == "nhwc") {
    p.layout = Layout::kNHWC;
  } else {
    fail("--layout '{}': expected nchw or nhwc", o.layout);
  }
  const Shape& in = g.value(g.inputs()[0]).shape;
  if (in.size() == 4) {
    const int64_t c = p.layout == Layout::kNCHW ? in[1] : in[3];
    const int64_t h = p.layout == Layout::kNCHW ? in[2] : in[1];
    const int64_t w = p.layout == Layout::kNCHW ? in[3] : in[2];
    if (c == 1 || c == 3) p.channels = c;
    if (h == w) {
      p.crop = h;
      p.resize = static_cast<int64_t>(std::lround(static_cast<double>(h) * 256.0 / 224.0));
    }
  }
  if (o.crop > 0) p.crop = o.crop;
  if (o.resize > 0) p.resize = o.resize;
  if (p.channels == 1) {  // gray models (Fashion-MNIST style): ToTensor only
    p.mean = {0.0f};
    p.std = {1.0f};
  }
  if (!o.mean.empty()) p.mean = o.mean;
  if (!o.std.empty()) p.std = o.std;
  return p;
}

}  // namespace

int run_eval(const EvalCliOptions& o) {
  CommandFiles declared;
  declared.input("--model", o.model).input("--labels", o.labels);
  data_inputs(declared, "--data", o.data);
  OutputFiles files = declared.output("--json", o.json).check();
  const DataSpec spec = parse_data_spec(o.data);
  if (spec.kind == DataSpec::Kind::kImages && o.labels.empty()) fail("--data images:DIR needs --labels FILE");
  if (o.limit < 0) fail("--limit {}: must be positive", o.limit);
  const LayerGraph g = import_model(o.model);
  if (g.inputs().size() != 1) fail("{}: the model has {} inputs; qsim eval feeds one", o.model, g.inputs().size());

  std::unique_ptr<Dataset> data;
  switch (spec.kind) {
    case DataSpec::Kind::kFashionMnist: data = load_fashion_mnist(spec.path, Split::kTest, o.limit); break;
    case DataSpec::Kind::kImages:
      data = load_image_folder(spec.path, o.labels, image_preprocess(o, g), o.limit);
      break;
    case DataSpec::Kind::kNpy:
      if (o.labels.empty()) fail("--data npy:FILE needs --labels FILE");
      data = load_npy_dataset(spec.path, o.labels, o.limit);
      break;
  }

  EvalOptions eo;
  eo.threads = o.threads;
  eo.batch = o.batch;
  const EvalResult r = evaluate(g, *data, eo);

  std::string mode = r.rebatched ? fmt::format("re-batched to {}", r.batch)
                                 : fmt::format("batch {}{}", r.batch,
                                               r.why_not_rebatched.empty() ? "" : " (" + r.why_not_rebatched + ")");
  std::string text;  // printed once the files are written
  text += fmt::format("{} on {}: {} samples, {} classes\n", g.name, data->description(), r.samples, r.classes);
  text += fmt::format("fp32 top-1: {:.2f}% ({}/{})", 100.0 * r.top1(), r.top1_correct, r.samples);
  if (r.has_top5) text += fmt::format("  top-5: {:.2f}% ({}/{})", 100.0 * r.top5(), r.top5_correct, r.samples);
  text += fmt::format("\n{:.3f} s ({:.0f} samples/s, {:.3f} s CPU), {} workers, {}\n", r.seconds,
                           r.seconds > 0 ? r.samples / r.seconds : 0.0, r.cpu_seconds, r.workers, mode);

  if (!o.json.empty()) {
    nlohmann::json j;
    j["model"] = o.model;
    j["data"] = data->description();
    j["samples"] = r.samples;
    j["classes"] = r.classes;
    j["fp32_top1"] = r.top1();
    j["fp32_top1_correct"] = r.top1_correct;
    if (r.has_top5) {
      j["fp32_top5"] = r.top5();
      j["fp32_top5_correct"] = r.top5_correct;
    }
    j["seconds"] = r.seconds;
    j["cpu_seconds"] = r.cpu_seconds;
    j["batch"] = r.batch;
    j["rebatched"] = r.rebatched;
    j["workers"] = r.workers;
    files.set(o.json, j.dump(2) + "\n");
  }
  files.commit();
  std::cout << text;
  return 0;
}

}  // namespace qsim::app
