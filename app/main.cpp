// qsim command line: main() is a thin driver over one registration function per
// command (add_<command>_command), each declaring that command's options into its
// option struct (app/commands.h) and returning how to run it.
//
// This is the only translation unit that includes CLI11, on purpose: every file that
// includes it costs about 10 s of compile time (CLI11 2.1 is header-only), while the
// registrations are a few lines each and change together with commands.h. One file
// with one small function per command keeps that cost paid once; a file per command
// (or per group) would pay it up to ten times for no gain in coupling.
#include <cstdio>
#include <exception>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "app/commands.h"
#include "app/exec_sibling.h"
#include "app/version.h"
#include "graph/error.h"
#include "graph/limits.h"

namespace {

using namespace qsim::app;

// Exit codes: 0 success, 1 a check that the command performs failed, 2 bad input.
constexpr int kExitBadInput = 2;

// A registered command: its CLI11 node (set when it was given) and its action,
// which owns the options CLI11 writes into.
struct Command {
  CLI::App* cli = nullptr;
  std::function<int()> run;
};

// A command declares its options when the parser reaches the command's name (CLI11's
// pre-parse callback), not at start-up: CLI11 builds every option eagerly (names,
// validator, callback: a few hundred allocations for all commands, most of what a
// short run like `qsim --version` does), and one run uses one command. Nothing the
// user sees changes: `qsim CMD --help` and every error are produced after that point,
// and `qsim --help` lists commands, not their options.
void declare_when_used(CLI::App* command, std::function<void()> declare) {
  command->preparse_callback([declare = std::move(declare)](std::size_t) { declare(); });
}

// ---- option groups several commands spell the same way ----

const char* const kSetHelp = "Override a hardware key, KEY=VALUE (dotted key, e.g. memory.ifmap_kib=64); repeatable";
const char* const kMemLimitHelp =
    "Refuse a model whose weights + buffers exceed SIZE (2G, 512M, 25%); default QSIM_MEM_LIMIT, else 50% of RAM";

void add_hw(CLI::App* c, HwInput& hw, const char* set_help) {
  c->add_option("--hw", hw.hw, "Hardware config (configs/*.yaml)");
  c->add_option("--scalesim-cfg", hw.scalesim_cfg, "SCALE-Sim v2 .cfg in place of --hw (used unchanged)");
  c->add_option("--set", hw.sets, set_help)->allow_extra_args(false);
}

void add_model(CLI::App* c, ModelInput& m) {
  c->add_option("--model,-m", m.model, "Model file: .onnx, or a SCALE-Sim topology .csv");
  c->add_option("--topology", m.topology, "SCALE-Sim topology CSV in place of --model (used unchanged)");
}

void add_precision(CLI::App* c, PrecisionInput& p) {
  c->add_option("--precision", p.precision, "Per-layer widths from alloc.json (every compute layer listed)");
  c->add_option("--bits", p.bits, "Uniform weight and activation width (default 8)")->check(CLI::Range(1, 32));
  c->add_option("--wbits", p.wbits, "Weight width of every layer (overrides --bits)")->check(CLI::Range(1, 32));
  c->add_option("--abits", p.abits, "Activation width of every layer (overrides --bits)")->check(CLI::Range(1, 32));
}

void add_exports(CLI::App* c, SimulateOptions& s) {
  c->add_option("--csv", s.csv, "Write the per-layer table as CSV");
  c->add_option("--json", s.json, "Write the report as JSON (layers and totals)");
  c->add_option("--scalesim-out", s.scalesim_out,
                "Write SCALE-Sim v2's COMPUTE_REPORT.csv and BANDWIDTH_REPORT.csv into this directory");
  c->add_option("--report", s.report, "Write the HTML report (latency bars, bits per layer, settings)");
}

void add_simulate_options(CLI::App* c, SimulateOptions& s) {
  add_hw(c, s.hw, kSetHelp);
  add_model(c, s.model);
  add_precision(c, s.precision);
  add_exports(c, s);
}

// Quantization flags shared by qsim run --precision and qsim quantize.
void add_quant(CLI::App* c, QuantCliOptions& q) {
  c->add_option("--calib-data", q.calib_data,
                "Calibration data: fashion-mnist[:DIR] (train split) or npy:FILE (default for quantize: the "
                "train split of --data)");
  c->add_option("--calib", q.calib, "Activation calibration: minmax (default), percentile, mse, kl");
  c->add_option("--calib-samples", q.calib_samples, "Calibration samples, evenly spaced over the data (default 512)");
  c->add_option("--percentile", q.percentile, "--calib percentile: upper percentile (default 99.99)");
  c->add_option("--weight-clip", q.weight_clip, "Weight clipping: minmax (default) or mse");
  c->add_flag("--symmetric-act", q.act_symmetric, "Symmetric activations (zero point 0) instead of asymmetric");
  c->add_flag("--bias-correction", q.bias_correction, "Correct biases for the mean error of quantized weights");
  c->add_option("--acc-bits", q.acc_bits, "Accumulator width (16..32, default 32)");
  c->add_option("--mode", q.mode, "Quantized executor: fake (float32 kernels, default) or int (integer only)");
  c->add_flag("--recalibrate", q.recalibrate, "Ignore the scales stored in --precision and calibrate again");
}

// What qsim sensitivity and qsim allocate measure with (QuantuneV2, docs/quantune.md).
void add_measure(CLI::App* c, SensitivityCliOptions& s) {
  c->add_option("--model,-m", s.model, "ONNX model")->required();
  c->add_option("--data", s.data,
                "Calibration data: fashion-mnist[:DIR] (train split) or npy:FILE; --calib-samples evenly spaced "
                "samples calibrate and measure");
  c->add_option("--abits", s.abits, "Activation width of every candidate (default: the candidate width itself)");
  c->add_flag("--per-tensor", s.per_tensor, "Per-tensor weight scales (default per-channel)");
  c->add_option("--weights", s.weights,
                "Score weights a,b,c,d[,e] of w_sqnr, a_sqnr, w_mse, a_mse[, a_sqnr_delta] (docs/quantune.md)");
  c->add_option("--calib", s.quant.calib, "Activation calibration: minmax (default), percentile, mse, kl");
  c->add_option("--calib-samples", s.quant.calib_samples, "Samples, evenly spaced over the data (default 512)");
  c->add_option("--percentile", s.quant.percentile, "--calib percentile: upper percentile (default 99.99)");
  c->add_option("--weight-clip", s.quant.weight_clip, "Weight clipping: minmax (default) or mse");
  c->add_flag("--symmetric-act", s.quant.act_symmetric, "Symmetric activations (zero point 0)");
  c->add_option("--acc-bits", s.quant.acc_bits, "Accumulator width (16..32, default 32)");
  c->add_option("--threads", s.threads, "Worker threads (default 0: every core)");
}

// ---- one function per command ----

// The main job, qsim --hw HW.yaml --model M.onnx: options of the top level itself.
// Without any of them (and no command) qsim prints its help.
Command add_main_job(CLI::App& app, const std::vector<std::string>& command_line) {
  auto o = std::make_shared<SimulateOptions>();
  o->command_line = command_line;
  add_simulate_options(&app, *o);
  return {&app, [o, &app] {
            const bool given = !o->model.model.empty() || !o->model.topology.empty() || !o->hw.hw.empty() ||
                               !o->hw.scalesim_cfg.empty();
            if (given) return run_simulate(*o);
            std::cout << app.help();
            return 0;
          }};
}

Command add_info_command(CLI::App& app) {
  auto o = std::make_shared<InfoOptions>();
  auto* c = app.add_subcommand("info", "Print the fused layer graph: one row per layer, GEMM view, MACs, params");
  declare_when_used(c, [c, o] {
    c->add_option("--model,-m", o->model, "Model file: .onnx, or a SCALE-Sim topology .csv")->required();
    c->add_flag("--json", o->json,
                "Print JSON to stdout: layers[{name,op,M,N,K,macs,params,...}], compute_layers, "
                "total_macs, total_params");
  });
  return {c, [o] { return run_info(*o); }};
}

Command add_simulate_command(CLI::App& app, const std::vector<std::string>& command_line) {
  auto o = std::make_shared<SimulateOptions>();
  o->command_line = command_line;
  auto* c = app.add_subcommand(
      "simulate", "Per-layer latency, memory traffic and energy of a model on an accelerator (the main job)");
  declare_when_used(c, [c, o] {
    add_simulate_options(c, *o);
  });
  return {c, [o] { return run_simulate(*o); }};
}

Command add_lut_command(CLI::App& app) {
  auto o = std::make_shared<LutOptions>();
  auto* c =
      app.add_subcommand("lut", "Latency/energy lookup table [layer][wbits][abits] for hardware-aware quantization");
  declare_when_used(c, [c, o] {
    add_hw(c, o->hw, kSetHelp);
    add_model(c, o->model);
    c->add_option("--bits", o->bits, "Widths to tabulate for weights and activations, e.g. 2,4,8")
        ->delimiter(',')
        ->required();
    c->add_option("--out", o->out, "Output file, lut.csv or lut.json (default: CSV on stdout)");
    c->add_option("--npy", o->npy,
                  "Also write NumPy float64 [layer][wbits][abits]: total cycles to FILE.npy, energy (pJ) to "
                  "FILE.energy_pj.npy; NaN where the PE cannot run the pair");
  });
  return {c, [o] { return run_lut(*o); }};
}

Command add_sweep_command(CLI::App& app, const std::vector<std::string>& command_line) {
  auto o = std::make_shared<SweepOptions>();
  o->command_line = command_line;
  auto* c = app.add_subcommand("sweep", "Cartesian sweep of hardware keys, one CSV row of totals per point");
  declare_when_used(c, [c, o] {
    add_hw(c, o->hw, "An axis, KEY=V1,V2,... (dotted key); repeat for more axes");
    add_model(c, o->model);
    add_precision(c, o->precision);
    c->add_option("--out", o->out, "Output CSV (default: stdout); resumable through its journal <out>.journal");
    c->add_option("--json", o->json, "Write provenance, axes and every point as JSON (qsim report reads it)");
    c->add_option("--report", o->report, "Write the HTML report (latency heatmap, Pareto scatter, settings)");
    c->add_option("--threads", o->threads, "Worker threads (default 0: every core)");
    c->add_option("--pareto", o->pareto, "Mark the points no other point beats on all of COL,COL,... (minimised)")
        ->delimiter(',');
    c->add_option("--best", o->best, "Print the point with the smallest COL (e.g. latency_ms)");
    c->add_flag("--yes", o->yes, "Run a grid above the size limit (100000 points) without asking");
    c->add_flag("--no-journal", o->no_journal, "Do not resume from or keep <out>.journal");
  });
#ifdef QSIM_MPI_MAIN
  return {c, [o] { return run_sweep_mpi(*o); }};
#else
  return {c, [o] { return run_sweep(*o); }};
#endif
}

Command add_export_scalesim_command(CLI::App& app) {
  auto o = std::make_shared<ExportScaleSimOptions>();
  auto* c = app.add_subcommand("export-scalesim",
                               "Write a SCALE-Sim v2 .cfg and topology CSV from a hardware config and a model");
  declare_when_used(c, [c, o] {
    add_hw(c, o->hw, kSetHelp);
    add_model(c, o->model);
    c->add_option("--out-dir", o->out_dir, "Directory for NAME.cfg and NAME.csv")->required();
    c->add_option("--name", o->name, "Run name and file stem (default <hw name>_<model name>)");
  });
  return {c, [o] { return run_export_scalesim(*o); }};
}

Command add_report_command(CLI::App& app) {
  auto o = std::make_shared<ReportOptions>();
  auto* c =
      app.add_subcommand("report", "Result JSONs (qsim --json, qsim sweep --json) as one self-contained HTML page");
  declare_when_used(c, [c, o] {
    c->add_option("--from", o->from, "A result JSON, or a directory of them")->required();
    c->add_option("--out", o->out, "Output HTML file")->required();
  });
  return {c, [o] { return run_report(*o); }};
}

Command add_compare_command(CLI::App& app) {
  auto o = std::make_shared<CompareOptions>();
  auto* c = app.add_subcommand(
      "compare", "Two results side by side, per layer and in total: --hw A --hw B --model M, or two result JSONs");
  declare_when_used(c, [c, o] {
    c->add_option("results", o->results, "Two result JSON files (qsim --json FILE)");
    c->add_option("--hw", o->hw, "Hardware config; give two")->allow_extra_args(false);
    c->add_option("--set", o->sets, "Override a hardware key on both configs, KEY=VALUE; repeatable")
        ->allow_extra_args(false);
    add_model(c, o->model);
    add_precision(c, o->precision);
    c->add_option("--csv", o->csv, "Write layer,metric,a,b,diff_pct (totals as layer TOTAL)");
  });
  return {c, [o] { return run_compare(*o); }};
}

Command add_hw_command(CLI::App& app) {
  auto o = std::make_shared<HwOptions>();
  auto* c =
      app.add_subcommand("hw", "Check a hardware config: every key with its value, peak MACs/cycle per width pair");
  declare_when_used(c, [c, o] {
    add_hw(c, o->hw, kSetHelp);
    c->add_flag("--json", o->json, "Print JSON to stdout: name, source, keys{dotted key: value}, derived");
    c->add_flag("--keys", o->keys, "Print the table of every key (type, default, meaning) as Markdown");
  });
  return {c, [o] { return run_hw(*o); }};
}

// The inference commands also take --mem-limit (graph/limits.h), which main() applies
// before any of them runs: `mem_limit` is the one string they all write.
Command add_run_command(CLI::App& app, std::string& mem_limit) {
  auto o = std::make_shared<RunOptions>();
  auto* c = app.add_subcommand("run", "One float32 inference: .npy tensors in, the graph's outputs as .npy");
  declare_when_used(c, [c, o, &mem_limit] {
    c->add_option("--model,-m", o->model, "ONNX model")->required();
    c->add_option("--input,-i", o->inputs, "Input tensor FILE.npy (graph inputs in order) or NAME=FILE.npy; repeatable")
        ->allow_extra_args(false);
    c->add_option("--output,-o", o->outputs,
                  "FILE.npy for the graph's first output, or NAME=FILE.npy for another; repeatable")
        ->allow_extra_args(false)
        ->required();
    c->add_option("--threads", o->threads, "Worker threads (default 0: every core)");
    c->add_option("--precision", o->quant.precision,
                  "Run quantized with this alloc.json (its scales, or calibrated with --calib-data)");
    add_quant(c, o->quant);
    c->add_option("--mem-limit", mem_limit, kMemLimitHelp);
  });
  return {c, [o] { return run_run(*o); }};
}

Command add_eval_command(CLI::App& app, std::string& mem_limit) {
  auto o = std::make_shared<EvalCliOptions>();
  auto* c = app.add_subcommand("eval", "Float32 top-1 (and top-5) accuracy over a labelled data set");
  declare_when_used(c, [c, o, &mem_limit] {
    c->add_option("--model,-m", o->model, "ONNX model")->required();
    c->add_option("--data", o->data,
                  "fashion-mnist[:DIR] (10k test split), images:DIR (PNG/JPEG) or npy:FILE (samples on axis 0)")
        ->required();
    c->add_option("--labels", o->labels,
                  "Labels: .npy of integers, or text: one class per line, or '<file name> <class>' lines");
    c->add_option("--limit", o->limit, "Evaluate the first N samples only");
    c->add_option("--json", o->json, "Write the result as JSON (fp32_top1, fp32_top5, samples, ...)");
    c->add_option("--threads", o->threads, "Worker threads (default 0: every core)");
    c->add_option("--batch", o->batch, "Samples per run when the graph can be re-batched (default: auto)");
    c->add_option("--resize", o->resize, "Images: shorter side after resizing (default: crop * 256/224)");
    c->add_option("--crop", o->crop, "Images: centre crop size (default: the model's input size)");
    c->add_option("--mean", o->mean, "Images: per-channel mean on [0,1] (default ImageNet's)")->delimiter(',');
    c->add_option("--std", o->std, "Images: per-channel std (default ImageNet's)")->delimiter(',');
    c->add_option("--layout", o->layout, "Images: nchw (default) or nhwc");
    c->add_option("--mem-limit", mem_limit, kMemLimitHelp);
  });
  return {c, [o] { return run_eval(*o); }};
}

Command add_quantize_command(CLI::App& app, std::string& mem_limit) {
  auto o = std::make_shared<QuantizeOptions>();
  auto* c = app.add_subcommand(
      "quantize", "Post-training quantization: calibrate, compare with float32, export a QDQ ONNX model");
  declare_when_used(c, [c, o, &mem_limit] {
    c->add_option("--model,-m", o->model, "ONNX model")->required();
    c->add_option("--data", o->data,
                  "Evaluation data: fashion-mnist[:DIR] (10k test split) or npy:FILE (with --labels)")
        ->required();
    c->add_option("--labels", o->labels, "Labels of npy:FILE data (.npy or text)");
    add_precision(c, o->precision);
    c->add_flag("--per-channel", o->per_channel, "Per-channel weight scales (with uniform widths)");
    add_quant(c, o->quant);
    c->add_option("--limit", o->limit, "Evaluate the first N samples only");
    c->add_option("--out", o->out,
                  "Write the QDQ ONNX model (QuantizeLinear/DequantizeLinear) and, beside it, <out>.alloc.json");
    c->add_option("--save-precision", o->save_precision, "Write the alloc.json with the scales used");
    c->add_option("--json", o->json, "Write the result as JSON (fp32_top1, quant_top1, agreement, sqnr_db, ...)");
    c->add_option("--dump-logits", o->dump_logits, "Write the quantized logits of every sample (.npy)");
    c->add_flag("--compare-modes", o->compare_modes,
                "Run the fake-quant and integer executors side by side and compare them");
    c->add_option("--threads", o->threads, "Worker threads (default 0: every core)");
    c->add_option("--batch", o->batch, "Samples per run when the graph can be re-batched (default: auto)");
    c->add_option("--mem-limit", mem_limit, kMemLimitHelp);
  });
  return {c, [o] { return run_quantize(*o); }};
}

Command add_sensitivity_command(CLI::App& app, std::string& mem_limit) {
  auto o = std::make_shared<SensitivityCliOptions>();
  auto* c = app.add_subcommand(
      "sensitivity", "QuantuneV2 layer sensitivity: weight/activation SQNR and MSE per layer and width, combined score");
  declare_when_used(c, [c, o, &mem_limit] {
    add_measure(c, *o);
    c->get_option("--data")->required();
    c->add_option("--bits", o->bits, "Candidate widths, e.g. 2,4,8 (default)")->delimiter(',');
    c->add_option("--csv", o->csv,
                  "Write one row per (layer, width): layer,bits,w_sqnr_db,a_sqnr_db,w_mse,a_mse,score,...");
    c->add_option("--json", o->json, "Write the metrics as JSON (input of qsim allocate --sensitivity)");
    c->add_option("--mem-limit", mem_limit, kMemLimitHelp);
  });
  return {c, [o] { return run_sensitivity(*o); }};
}

Command add_allocate_command(CLI::App& app, std::string& mem_limit) {
  auto o = std::make_shared<AllocateCliOptions>();
  auto* c = app.add_subcommand(
      "allocate", "QuantuneV2 mixed precision: the most sensitive fused groups high, the rest low -> alloc.json");
  declare_when_used(c, [c, o, &mem_limit] {
    add_measure(c, o->measure);
    c->add_option("--sensitivity", o->sensitivity, "Scores from qsim sensitivity --json (instead of --data)");
    c->add_option("--high", o->high, "High weight width (default 8)");
    c->add_option("--low", o->low, "Low weight width (default 4)");
    c->add_option("--high-count", o->high_count, "Compute layers at the high width, kept ones included");
    c->add_option("--high-fraction", o->high_fraction, "The same as a fraction of the compute layers");
    c->add_option("--latency-budget-ms", o->latency_budget_ms,
                  "Raise groups while the analytical latency on --hw stays within X ms");
    c->add_option("--size-budget-kib", o->size_budget_kib,
                  "Raise groups while the weights (elements x wbits / 8) stay within X KiB");
    add_hw(c, o->hw, kSetHelp);
    c->add_option("--keep", o->keep, "Force a layer's weight width, LAYER=BITS; repeatable")->allow_extra_args(false);
    c->add_flag("--no-keep-first-last", o->no_keep_first_last,
                "Do not keep the first and last compute layers at the high width");
    c->add_flag("--prefer-fewer-boundaries", o->prefer_fewer_boundaries,
                "Among groups of equal score (within --tie-tolerance), raise the one giving fewer requant boundaries");
    c->add_option("--tie-tolerance", o->tie_tolerance, "Scores within T count as equal (default 0)");
    c->add_option("--order", o->order, "sensitivity (QuantuneV2, default) or random (a baseline; --seed)");
    c->add_option("--seed", o->seed, "Seed of --order random (default 0)");
    c->add_option("--out", o->out, "Write the alloc.json (qsim --precision, qsim quantize --precision)");
    c->add_option("--json", o->json, "Write the allocation report as JSON (groups, scores, boundaries)");
    c->add_option("--mem-limit", mem_limit, kMemLimitHelp);
  });
  return {c, [o] { return run_allocate(*o); }};
}

}  // namespace

int main(int argc, char** argv) {
#ifndef QSIM_MPI_MAIN
  // Under an MPI launcher, `qsim sweep` is the dynamically linked sibling's
  // (qsim-mpi): MPI cannot be linked into this static executable.
  if (argc > 1 && std::string_view(argv[1]) == "sweep" && launched_by_mpi()) {
    const std::string why = exec_sibling("qsim-mpi", argv);
    std::cerr << "qsim: error: qsim sweep under MPI runs qsim-mpi, built beside qsim when CMake finds MPI "
                 "(libopenmpi-dev): "
              << why << "\n";
    return kExitBadInput;
  }
#endif
  CLI::App app{
      "qsim — hardware/quantization co-design for CNN accelerators.\n"
      "Imports an ONNX model (or a SCALE-Sim topology) and reports per-layer latency, memory\n"
      "traffic and energy on a configurable systolic array at any per-layer precision.",
      "qsim"};
  app.set_version_flag("--version", std::string("qsim ") + QSIM_VERSION_STRING);
  app.require_subcommand(0, 1);
  app.fallthrough(false);

  std::string mem_limit;  // --mem-limit of run, eval, quantize, sensitivity, allocate
  const std::vector<std::string> command_line(argv, argv + argc);
  const Command main_job = add_main_job(app, command_line);
  // Registration order is the order `qsim --help` lists the commands in.
  const std::vector<Command> commands = {
      add_info_command(app),
      add_simulate_command(app, command_line),
      add_lut_command(app),
      add_sweep_command(app, command_line),
      add_compare_command(app),
      add_report_command(app),
      add_export_scalesim_command(app),
      add_hw_command(app),
      add_run_command(app, mem_limit),
      add_eval_command(app, mem_limit),
      add_quantize_command(app, mem_limit),
      add_sensitivity_command(app, mem_limit),
      add_allocate_command(app, mem_limit),
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "qsim: error: " << e.what() << "\n";
    return kExitBadInput;
  }

  try {
    if (!mem_limit.empty()) qsim::set_memory_limit(qsim::parse_byte_size(mem_limit, "--mem-limit"));
    (void)qsim::memory_limit();  // a malformed QSIM_MEM_LIMIT is reported here, before any work
    for (const Command& c : commands)
      if (*c.cli) return c.run();
    return main_job.run();
  } catch (const qsim::Error& e) {
    std::cerr << "qsim: error: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const std::bad_alloc&) {
    std::cerr << "qsim: error: out of memory\n";
    return kExitBadInput;
  }
}
