// qsim run: one float32 (or, with --precision, quantized) inference of .npy tensors,
// outputs written as .npy.
#include <filesystem>
#include <iostream>
#include <optional>

#include <fmt/format.h>

#include "app/commands.h"
#include "app/quant_cli.h"
#include "graph/error.h"
#include "graph/model_import.h"
#include "quant/eval.h"
#include "runtime/executor.h"
#include "quant/int_exec.h"
#include "data/npy.h"
#include "quant/quant_fake.h"

namespace qsim::app {

namespace {

struct Binding {
  std::string name;  // empty: positional
  std::string file;
};

// "NAME=FILE" names a tensor; a plain FILE (or an existing file containing '=') is positional.
Binding parse_binding(const std::string& s) {
  const auto eq = s.find('=');
  std::error_code ec;  // a name the system refuses (too long) is no file: its reader or writer says so
  if (eq == std::string::npos || eq == 0 || std::filesystem::exists(s, ec)) return {"", s};
  return {s.substr(0, eq), s.substr(eq + 1)};
}

std::string names_of(const LayerGraph& g, std::span<const ValueId> ids) {
  std::string s;
  for (ValueId v : ids) s += (s.empty() ? "'" : ", '") + g.value(v).name + "'";
  return s;
}

bool is_float(DType t) { return t == DType::kFloat32 || t == DType::kFloat64; }

}  // namespace

int run_run(const RunOptions& o) {
  if (o.outputs.empty()) fail("qsim run needs at least one --output FILE.npy");
  std::vector<Binding> in_specs;
  for (const std::string& s : o.inputs) in_specs.push_back(parse_binding(s));
  std::vector<Binding> out_specs;
  for (const std::string& s : o.outputs) out_specs.push_back(parse_binding(s));
  CommandFiles declared;
  declared.input("--model", o.model).input("--precision", o.quant.precision);
  for (const Binding& b : in_specs) declared.input("--input", b.file);
  data_inputs(declared, "--calib-data", o.quant.calib_data);
  for (const Binding& b : out_specs) declared.output("--output", b.file);
  OutputFiles files = declared.check();
  std::vector<Tensor> in_tensors;
  for (const Binding& b : in_specs) in_tensors.push_back(read_npy(b.file));

  // A symbolic batch dimension takes the batch of the first input given.
  OnnxImportOptions io;
  if (!in_tensors.empty() && in_tensors[0].rank() > 0) io.batch = in_tensors[0].dim(0);
  LayerGraph g = import_model(o.model, io);

  // Bind tensors to graph inputs: named first, then positional in graph order.
  const auto gin = g.inputs();
  std::vector<int> bound(gin.size(), -1);
  for (std::size_t i = 0; i < in_specs.size(); ++i) {
    if (in_specs[i].name.empty()) continue;
    std::size_t k = 0;
    while (k < gin.size() && g.value(gin[k]).name != in_specs[i].name) ++k;
    if (k == gin.size())
      fail("{}: --input {}: the model has no input '{}' (inputs: {})", o.model, in_specs[i].name + "=" + in_specs[i].file,
           in_specs[i].name, names_of(g, gin));
    if (bound[k] >= 0) fail("{}: input '{}' is given twice", o.model, in_specs[i].name);
    bound[k] = static_cast<int>(i);
  }
  std::size_t next = 0;
  for (std::size_t i = 0; i < in_specs.size(); ++i) {
    if (!in_specs[i].name.empty()) continue;
    while (next < gin.size() && bound[next] >= 0) ++next;
    if (next == gin.size())
      fail("{}: more --input tensors than model inputs ({}: {})", o.model, gin.size(), names_of(g, gin));
    bound[next] = static_cast<int>(i);
  }
  std::vector<Tensor> inputs;
  bool batch_only_mismatch = true, any_mismatch = false;
  int64_t batch = -1;
  for (std::size_t k = 0; k < gin.size(); ++k) {
    const Value& v = g.value(gin[k]);
    if (bound[k] < 0) fail("{}: no --input for model input '{}' ({} {})", o.model, v.name, dtype_name(v.dtype), shape_str(v.shape));
    const Binding& b = in_specs[static_cast<std::size_t>(bound[k])];
    Tensor t = std::move(in_tensors[static_cast<std::size_t>(bound[k])]);
    if (t.dtype() != v.dtype) {
      const bool both_int = !is_float(t.dtype()) && !is_float(v.dtype) && t.dtype() != DType::kBool && v.dtype != DType::kBool;
      if (!(is_float(t.dtype()) && is_float(v.dtype)) && !both_int)
        fail("{}: is {}, but model input '{}' is {}", b.file, dtype_name(t.dtype()), v.name, dtype_name(v.dtype));
      t = t.cast(v.dtype);
    }
    if (t.shape() != v.shape) {
      any_mismatch = true;
      const bool same_tail = t.rank() == static_cast<int64_t>(v.shape.size()) && t.rank() > 0 &&
                             std::equal(t.shape().begin() + 1, t.shape().end(), v.shape.begin() + 1);
      if (!same_tail || (batch >= 0 && batch != t.dim(0))) batch_only_mismatch = false;
      if (same_tail) batch = t.dim(0);
    }
    inputs.push_back(std::move(t));
  }
  // Tensors with another batch than the model's fixed one: re-batch the graph.
  std::optional<LayerGraph> rebatched;
  if (any_mismatch) {
    std::string why;
    if (batch_only_mismatch && batch > 0) rebatched = rebatch(g, batch, &why);
    if (!rebatched) {
      for (std::size_t k = 0; k < gin.size(); ++k) {
        const Value& v = g.value(gin[k]);
        if (inputs[k].shape() != v.shape)
          fail("{}: has shape {}, but model input '{}' is {}{}", in_specs[static_cast<std::size_t>(bound[k])].file,
               shape_str(inputs[k].shape()), v.name, shape_str(v.shape),
               why.empty() ? "" : " (the graph cannot be re-batched: " + why + ")");
      }
    }
  }
  const LayerGraph& run_graph = rebatched ? *rebatched : g;

  // Outputs to write, checked before running.
  const auto gout = run_graph.outputs();
  std::vector<std::size_t> out_index;
  for (const Binding& b : out_specs) {
    if (b.name.empty()) {
      if (gout.empty()) fail("{}: the model has no outputs", o.model);
      out_index.push_back(0);
      continue;
    }
    std::size_t k = 0;
    while (k < gout.size() && run_graph.value(gout[k]).name != b.name) ++k;
    if (k == gout.size())
      fail("{}: --output {}={}: the model has no output '{}' (outputs: {})", o.model, b.name, b.file, b.name,
           names_of(run_graph, gout));
    out_index.push_back(k);
  }

  std::vector<Tensor> outputs;
  std::string text;  // printed once the files are written
  if (o.quant.precision.empty()) {
    Executor ex(run_graph, ExecOptions{.threads = o.threads});
    outputs = ex.run(inputs);
  } else {
    // One quantized inference: the scales stored in alloc.json, or calibrated first.
    const QuantMode mode = quant_mode(o.quant);
    const PrecisionAlloc alloc = PrecisionAlloc::load(o.quant.precision);
    const SpecSource src = quant_spec(g, alloc, o.quant.precision, o.quant, "", o.threads);
    const QuantizedModel qm(run_graph, src.spec);
    if (mode == QuantMode::kInt) {
      IntExecutor ex(qm, ExecOptions{.threads = o.threads});
      outputs = ex.run(inputs);
    } else {
      FakeQuantExecutor ex(qm, ExecOptions{.threads = o.threads});
      outputs = ex.run(inputs);
    }
    text += fmt::format("quantized ({}), {}\n", quant_mode_name(mode), src.how);
  }
  for (std::size_t i = 0; i < out_specs.size(); ++i) {
    const Tensor& t = outputs[out_index[i]];
    files.set(out_specs[i].file, npy_bytes(t));
    text += fmt::format("output '{}' {} {} -> {}\n", run_graph.value(gout[out_index[i]]).name,
                        dtype_name(t.dtype()), shape_str(t.shape()), out_specs[i].file);
  }
  files.commit();
  std::cout << text;
  return 0;
}

}  // namespace qsim::app
