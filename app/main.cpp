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
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "app/cli.h"
#include "app/commands.h"
#include "app/exec_sibling.h"
#include "app/output_paths.h"
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

// ---- checks on option values, before any command runs ----

// A file or folder name: never empty (--csv '' would otherwise mean "not given").
const CLI::Validator& path_name() {
  static const CLI::Validator v(
      [](std::string& s) { return s.empty() ? std::string("the file name is empty") : std::string(); }, "", "path");
  return v;
}

// A number that must be >= `min` (0: a count where 0 means "automatic" or "none";
// 1: a count of samples) and, when given, <= `max`. A value that is not a number is
// left to the conversion, which names it.
CLI::Validator at_least(double min, double max = HUGE_VAL) {
  return CLI::Validator(
      [min, max](std::string& s) {
        char* end = nullptr;
        const double v = std::strtod(s.c_str(), &end);
        if (end == s.c_str() || *end != '\0') return std::string();
        if (!(v >= min)) return fmt::format("must be at least {}, got {}", min, s);
        if (v > max) return fmt::format("must be at most {}, got {}", max, s);
        return std::string();
      },
      "", "at_least");
}

// Comma-separated lists (--bits 2,4,8, --mean, --std, --layers, --pareto): CLI11 drops an empty item
// ("2,,8", a trailing comma, '') silently, so the text is checked before parsing.
// Returns the message for the first list with an empty item, or "".
std::string empty_list_item(int argc, const char* const* argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    for (const char* name : {"--bits", "--mean", "--std", "--layers", "--pareto"}) {
      std::string value;
      if (a == name && i + 1 < argc) value = argv[i + 1];
      else if (a.rfind(std::string(name) + "=", 0) == 0) value = a.substr(std::strlen(name) + 1);
      else continue;
      if (value.empty() || value.front() == ',' || value.back() == ',' || value.find(",,") != std::string::npos)
        return fmt::format("{}: an empty item in the list '{}'", name, value);
    }
  }
  return "";
}

// Worker threads: 0 is every core; more than this is a typo, not a machine.
constexpr double kMaxThreads = 1024;

// ---- option groups several commands spell the same way ----

const char* const kSetHelp = "Override a hardware key, KEY=VALUE (dotted key, e.g. memory.ifmap_kib=64); repeatable";
const char* const kMemLimitHelp =
    "Refuse a model whose weights + buffers exceed SIZE (2G, 512M, 25%); default QSIM_MEM_LIMIT, else 50% of RAM";

void add_hw(CLI::App* c, HwInput& hw, const char* set_help) {
  c->add_option("--hw", hw.hw, "Hardware config (configs/*.yaml)")->check(path_name());
  c->add_option("--scalesim-cfg", hw.scalesim_cfg, "SCALE-Sim v2 .cfg in place of --hw (used unchanged)")
      ->check(path_name());
  c->add_option("--set", hw.sets, set_help)->allow_extra_args(false);
}

void add_model(CLI::App* c, ModelInput& m) {
  c->add_option("--model,-m", m.model, "Model file: .onnx, or a SCALE-Sim topology .csv")->check(path_name());
  c->add_option("--topology", m.topology, "SCALE-Sim topology CSV in place of --model (used unchanged)")
      ->check(path_name());
}

void add_precision(CLI::App* c, PrecisionInput& p) {
  c->add_option("--precision", p.precision, "Per-layer widths from alloc.json (every compute layer listed)")
      ->check(path_name());
  c->add_option("--bits", p.bits, "Uniform weight and activation width (default 8)")->check(CLI::Range(1, 32));
  c->add_option("--wbits", p.wbits, "Weight width of every layer (overrides --bits)")->check(CLI::Range(1, 32));
  c->add_option("--abits", p.abits, "Activation width of every layer (overrides --bits)")->check(CLI::Range(1, 32));
}

void add_exports(CLI::App* c, SimulateOptions& s) {
  c->add_option("--csv", s.csv, "Write the per-layer table as CSV")->check(path_name());
  c->add_option("--json", s.json, "Write the report as JSON (layers and totals)")->check(path_name());
  c->add_option("--scalesim-out", s.scalesim_out,
                "Write SCALE-Sim v2's COMPUTE_REPORT.csv and BANDWIDTH_REPORT.csv into this directory")
      ->check(path_name());
  // ---- the cycle-level and RTL backends (docs/systemc.md, docs/rtl.md) ----
  c->add_option("--backend", s.backend,
                "Timing backend: analytical (default), systemc (cycle level) or rtl (the verilated RTL array)");
  c->add_option("--layers", s.layers, "Run only these rows, NAME[,NAME...] (totals cover them only)")->delimiter(',');
  c->add_option("--vcd", s.vcd, "systemc: write a waveform (VCD) of the one layer named by --layers")
      ->check(path_name());
  c->add_option("--trace", s.trace, "systemc: write SCALE-Sim per-cycle SRAM/DRAM traces into DIR/layer<i>/")
      ->check(path_name());
  c->add_flag("--verify", s.verify,
              "systemc, rtl: run on the integer executor's operands and check every output bit for bit "
              "(needs --data or a calibrated --precision)");
  c->add_option("--data", s.data, "--verify: calibration data and input, fashion-mnist[:DIR] or npy:FILE")
      ->check(path_name());
  c->add_flag("--no-fast-forward", s.no_fast_forward, "systemc: step every cycle (no fast-forward)");
  c->add_option("--report", s.report, "Write the HTML report (latency bars, bits per layer, settings)")
      ->check(path_name());
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
                "train split of --data)")
      ->check(path_name());
  c->add_option("--calib", q.calib, "Activation calibration: minmax (default), percentile, mse, kl");
  c->add_option("--calib-samples", q.calib_samples, "Calibration samples, evenly spaced over the data (default 512)")
      ->check(at_least(1));
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
  c->add_option("--model,-m", s.model, "ONNX model")->check(path_name())->required();
  c->add_option("--data", s.data,
                "Calibration data: fashion-mnist[:DIR] (train split) or npy:FILE; --calib-samples evenly spaced "
                "samples calibrate and measure")
      ->check(path_name());
  c->add_option("--abits", s.abits, "Activation width of every candidate (default: the candidate width itself)");
  c->add_flag("--per-tensor", s.per_tensor, "Per-tensor weight scales (default per-channel)");
  c->add_option("--weights", s.weights,
                "Score weights a,b,c,d[,e] of w_sqnr, a_sqnr, w_mse, a_mse[, a_sqnr_delta] (docs/quantune.md)");
  c->add_option("--calib", s.quant.calib, "Activation calibration: minmax (default), percentile, mse, kl");
  c->add_option("--calib-samples", s.quant.calib_samples, "Samples, evenly spaced over the data (default 512)")
      ->check(at_least(1));
  c->add_option("--percentile", s.quant.percentile, "--calib percentile: upper percentile (default 99.99)");
  c->add_option("--weight-clip", s.quant.weight_clip, "Weight clipping: minmax (default) or mse");
  c->add_flag("--symmetric-act", s.quant.act_symmetric, "Symmetric activations (zero point 0)");
  c->add_option("--acc-bits", s.quant.acc_bits, "Accumulator width (16..32, default 32)");
  c->add_option("--threads", s.threads, "Worker threads (default 0: every core)")->check(at_least(0, kMaxThreads));
  c->add_option("--method", s.method,
                "Sensitivity estimator: measured, output-kl, isolated or quantunev2 (default: measured with labels, "
                "else output-kl; docs/quantune.md)");
  c->add_option("--labels", s.labels, "Labels of npy:FILE data (.npy or text; the measured method needs them)")
      ->check(path_name());
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
    c->add_option("--model,-m", o->model, "Model file: .onnx, or a SCALE-Sim topology .csv")
        ->check(path_name())->required();
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
    c->add_option("--out", o->out, "Output file, lut.csv or lut.json (default: CSV on stdout)")->check(path_name());
    c->add_option("--npy", o->npy,
                  "Also write NumPy float64 [layer][wbits][abits]: total cycles to FILE.npy, energy (pJ) to "
                  "FILE.energy_pj.npy; NaN where the PE cannot run the pair")
        ->check(path_name());
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
    c->add_option("--out", o->out, "Output CSV (default: stdout); resumable through its journal <out>.journal")
        ->check(path_name());
    c->add_option("--json", o->json, "Write provenance, axes and every point as JSON (qsim report reads it)")
        ->check(path_name());
    c->add_option("--report", o->report, "Write the HTML report (latency heatmap, Pareto scatter, settings)")
        ->check(path_name());
    c->add_option("--threads", o->threads, "Worker threads (default 0: every core)")->check(at_least(0, kMaxThreads));
    c->add_option("--area-budget-kge", o->area_budget_kge,
                  "Only the points whose area (qsim hw's area figure, kGE) is at most this");
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
    c->add_option("--out-dir", o->out_dir, "Directory for NAME.cfg and NAME.csv")->check(path_name())->required();
    c->add_option("--name", o->name, "Run name and file stem (default <hw name>_<model name>)");
  });
  return {c, [o] { return run_export_scalesim(*o); }};
}

Command add_report_command(CLI::App& app) {
  auto o = std::make_shared<ReportOptions>();
  auto* c =
      app.add_subcommand("report", "Result JSONs (qsim --json, qsim sweep --json) as one self-contained HTML page");
  declare_when_used(c, [c, o] {
    c->add_option("--from", o->from, "A result JSON, or a directory of them")->check(path_name())->required();
    c->add_option("--out", o->out, "Output HTML file")->check(path_name())->required();
  });
  return {c, [o] { return run_report(*o); }};
}

Command add_compare_command(CLI::App& app) {
  auto o = std::make_shared<CompareOptions>();
  auto* c = app.add_subcommand(
      "compare", "Two results side by side, per layer and in total: --hw A --hw B --model M, or two result JSONs");
  declare_when_used(c, [c, o] {
    c->add_option("results", o->results, "Two result JSON files (qsim --json FILE)")->check(path_name());
    c->add_option("--hw", o->hw, "Hardware config; give two")->check(path_name())->allow_extra_args(false);
    c->add_option("--set", o->sets, "Override a hardware key on both configs, KEY=VALUE; repeatable")
        ->allow_extra_args(false);
    add_model(c, o->model);
    add_precision(c, o->precision);
    c->add_option("--csv", o->csv, "Write layer,metric,a,b,diff_pct (totals as layer TOTAL)")->check(path_name());
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
    c->add_option("--model,-m", o->model, "ONNX model")->check(path_name())->required();
    c->add_option("--input,-i", o->inputs, "Input tensor FILE.npy (graph inputs in order) or NAME=FILE.npy; repeatable")
        ->check(path_name())
        ->allow_extra_args(false);
    c->add_option("--output,-o", o->outputs,
                  "FILE.npy for the graph's first output, or NAME=FILE.npy for another; repeatable")
        ->check(path_name())
        ->allow_extra_args(false)
        ->required();
    c->add_option("--threads", o->threads, "Worker threads (default 0: every core)")->check(at_least(0, kMaxThreads));
    c->add_option("--precision", o->quant.precision,
                  "Run quantized with this alloc.json (its scales, or calibrated with --calib-data)")
        ->check(path_name());
    add_quant(c, o->quant);
    c->add_option("--mem-limit", mem_limit, kMemLimitHelp);
  });
  return {c, [o] { return run_run(*o); }};
}

Command add_eval_command(CLI::App& app, std::string& mem_limit) {
  auto o = std::make_shared<EvalCliOptions>();
  auto* c = app.add_subcommand("eval", "Float32 top-1 (and top-5) accuracy over a labelled data set");
  declare_when_used(c, [c, o, &mem_limit] {
    c->add_option("--model,-m", o->model, "ONNX model")->check(path_name())->required();
    c->add_option("--data", o->data,
                  "fashion-mnist[:DIR] (10k test split), images:DIR (PNG/JPEG) or npy:FILE (samples on axis 0)")
        ->check(path_name())
        ->required();
    c->add_option("--labels", o->labels,
                  "Labels: .npy of integers, or text: one class per line, or '<file name> <class>' lines")
        ->check(path_name());
    c->add_option("--limit", o->limit, "Evaluate the first N samples only")->check(at_least(1));
    c->add_option("--json", o->json, "Write the result as JSON (fp32_top1, fp32_top5, samples, ...)")
        ->check(path_name());
    c->add_option("--threads", o->threads, "Worker threads (default 0: every core)")->check(at_least(0, kMaxThreads));
    c->add_option("--batch", o->batch, "Samples per run when the graph can be re-batched (default: auto)")
        ->check(at_least(0));
    c->add_option("--resize", o->resize, "Images: shorter side after resizing (default: crop * 256/224)")
        ->check(at_least(0));
    c->add_option("--crop", o->crop, "Images: centre crop size (default: the model's input size)")->check(at_least(0));
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
    c->add_option("--model,-m", o->model, "ONNX model")->check(path_name())->required();
    c->add_option("--data", o->data,
                  "Evaluation data: fashion-mnist[:DIR] (10k test split) or npy:FILE (with --labels)")
        ->check(path_name())
        ->required();
    c->add_option("--labels", o->labels, "Labels of npy:FILE data (.npy or text)")->check(path_name());
    add_precision(c, o->precision);
    c->add_flag("--per-channel", o->per_channel, "Per-channel weight scales (with uniform widths)");
    add_quant(c, o->quant);
    c->add_option("--limit", o->limit, "Evaluate the first N samples only")->check(at_least(1));
    c->add_option("--out", o->out,
                  "Write the QDQ ONNX model (QuantizeLinear/DequantizeLinear) and, beside it, <out>.alloc.json")
        ->check(path_name());
    c->add_option("--save-precision", o->save_precision, "Write the alloc.json with the scales used")
        ->check(path_name());
    c->add_option("--json", o->json, "Write the result as JSON (fp32_top1, quant_top1, agreement, sqnr_db, ...)")
        ->check(path_name());
    c->add_option("--dump-logits", o->dump_logits, "Write the quantized logits of every sample (.npy)")
        ->check(path_name());
    c->add_flag("--compare-modes", o->compare_modes,
                "Run the fake-quant and integer executors side by side and compare them");
    c->add_option("--threads", o->threads, "Worker threads (default 0: every core)")->check(at_least(0, kMaxThreads));
    c->add_option("--batch", o->batch, "Samples per run when the graph can be re-batched (default: auto)")
        ->check(at_least(0));
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
                  "Write one row per (layer, width): layer,bits,w_sqnr_db,a_sqnr_db,w_mse,a_mse,score,...")
        ->check(path_name());
    c->add_option("--json", o->json, "Write the metrics as JSON (input of qsim allocate --sensitivity)")
        ->check(path_name());
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
    c->add_option("--sensitivity", o->sensitivity, "Scores from qsim sensitivity --json (instead of --data)")
        ->check(path_name());
    c->add_option("--high", o->high, "High weight width (default 8)");
    c->add_option("--low", o->low, "Low weight width (default 4)");
    c->add_option("--high-count", o->high_count, "Compute layers at the high width, kept ones included")
        ->check(at_least(0));
    c->add_option("--high-fraction", o->high_fraction, "The same as a fraction of the compute layers")
        ->check(at_least(0));
    c->add_option("--latency-budget-ms", o->latency_budget_ms,
                  "Raise groups while the analytical latency on --hw stays within X ms")
        ->check(at_least(0));
    c->add_option("--size-budget-kib", o->size_budget_kib,
                  "Raise groups while the weights (elements x wbits / 8) stay within X KiB")
        ->check(at_least(0));
    add_hw(c, o->hw, kSetHelp);
    c->add_option("--keep", o->keep, "Force a layer's weight width, LAYER=BITS; repeatable")->allow_extra_args(false);
    c->add_flag("--no-keep-first-last", o->no_keep_first_last,
                "Do not keep the first and last compute layers at the high width");
    c->add_flag("--prefer-fewer-boundaries", o->prefer_fewer_boundaries,
                "Among groups of equal score (within --tie-tolerance), raise the one giving fewer requant boundaries");
    c->add_option("--tie-tolerance", o->tie_tolerance, "Scores within T count as equal (default 0)");
    c->add_option("--allocator", o->allocator,
                  "rank (sensitivity order), knapsack (est_drop per unit of budget) or greedy-measured (whole "
                  "allocations measured step by step, up from all low and down from all high, the lower loss kept; "
                  "needs --data); default: greedy-measured with --data, "
                  "knapsack with --sensitivity");
    c->add_option("--order", o->order, "sensitivity (QuantuneV2, default) or random (a baseline; --seed)");
    c->add_option("--seed", o->seed, "Seed of --order random (default 0)")->check(at_least(0));
    c->add_option("--out", o->out, "Write the alloc.json (qsim --precision, qsim quantize --precision)")
        ->check(path_name());
    c->add_option("--json", o->json, "Write the allocation report as JSON (groups, scores, boundaries)")
        ->check(path_name());
    c->add_option("--mem-limit", mem_limit, kMemLimitHelp);
  });
  return {c, [o] { return run_allocate(*o); }};
}

Command add_search_command(CLI::App& app, std::string& mem_limit, const std::vector<std::string>& command_line) {
  auto o = std::make_shared<SearchCliOptions>();
  o->command_line = command_line;
  auto* c = app.add_subcommand(
      "search", "Markov-chain co-design search: per-layer widths x hardware parameters -> alloc.json, front.csv");
  declare_when_used(c, [c, o, &mem_limit] {
    add_hw(c, o->hw, kSetHelp);
    c->add_option("--model,-m", o->model, "ONNX model")->check(path_name())->required();
    c->add_option("--data", o->data,
                  "Labelled data: fashion-mnist[:DIR] (train split: calibration and checks; test split: the final "
                  "top-1) or npy:FILE with --labels")
        ->check(path_name())
        ->required();
    c->add_option("--labels", o->labels, "Labels of npy:FILE data (.npy or text)")->check(path_name());
    c->add_option("--space", o->space, "Hardware keys to search and budgets (space.yaml)")->check(path_name());
    c->add_option("--sensitivity", o->sensitivity,
                  "The estimate from qsim sensitivity --json (its est_drop rows) instead of measuring it")
        ->check(path_name());
    c->add_option("--lambda", o->lambda, "Weight of latency / latency(8-bit) against points of top-1 (default 4)");
    c->add_option("--latency-target", o->latency_target_ms, "Latency limit, ms");
    c->add_option("--max-size-kib", o->max_size_kib, "Weight storage limit, KiB");
    c->add_option("--min-top1", o->min_top1, "Minimum top-1, percent");
    c->add_option("--max-drop", o->max_drop, "Maximum top-1 drop below the reference allocation, points");
    c->add_option("--max-energy-uj", o->max_energy_uj, "Energy limit, uJ");
    c->add_option("--steps", o->steps, "Steps per chain (default 10000)");
    c->add_option("--chains", o->chains, "Chains (default 4)");
    c->add_option("--threads", o->threads, "Worker threads (default 0: every core)")->check(at_least(0, kMaxThreads));
    c->add_option("--seed", o->seed, "Seed; a seed gives the same result at any --threads (default 0)")
        ->check(at_least(0));
    c->add_option("--proposal", o->proposal, "walk (local random walk, default) or amed (independence)");
    c->add_option("--bits", o->bits, "Weight widths of the options (default 2,3,4,8)")->delimiter(',');
    c->add_option("--abits", o->abits, "Activation width of every option (default: the weight width)");
    c->add_flag("--per-tensor", o->per_tensor, "Per-tensor weight scales (default per-channel)");
    c->add_option("--keep", o->keep, "Pin a layer's weight width, LAYER=BITS; repeatable")->allow_extra_args(false);
    c->add_flag("--no-keep-first-last", o->no_keep_first_last,
                "Let the first and last compute layers move (pinned at 8 bits by default)");
    c->add_option("--check-every", o->check_every, "Steps between true checks of the best states (default 1000)");
    c->add_option("--check-top", o->check_top, "States checked per check (default 4)");
    c->add_option("--check-samples", o->check_samples, "Held-out calibration samples (default 10000)");
    c->add_option("--test-limit", o->test_limit, "Final top-1 on the first N test samples (default: all)");
    c->add_option("--temp-start", o->temp_start, "Starting temperature (default 0.5)");
    c->add_option("--temp-end", o->temp_end, "Final temperature (default 0.005)");
    c->add_option("--front-points", o->front_points, "Points per Pareto front in front.csv (default 8)");
    c->add_flag("--no-random", o->no_random, "Skip the random-search baseline");
    c->add_option("--grid-limit", o->grid_limit,
                  "Run the grid-sweep baseline when the space has at most N points (default 4096)");
    c->add_option("--calib", o->quant.calib, "Activation calibration: minmax (default), percentile, mse, kl");
    c->add_option("--calib-samples", o->quant.calib_samples, "Calibration samples (default 512)")->check(at_least(1));
    c->add_option("--percentile", o->quant.percentile, "--calib percentile: upper percentile");
    c->add_option("--weight-clip", o->quant.weight_clip, "Weight clipping: minmax (default) or mse");
    c->add_flag("--symmetric-act", o->quant.act_symmetric, "Symmetric activations (zero point 0)");
    c->add_option("--acc-bits", o->quant.acc_bits, "Accumulator width (16..32, default 32)");
    c->add_option("--out", o->out, "Output directory: alloc.json, front.csv, summary.json (hw.yaml)")
        ->check(path_name())
        ->required();
    c->add_option("--report", o->report, "Write the HTML report (accuracy-latency front, bits per layer, settings)")
        ->check(path_name());
    c->add_option("--mem-limit", mem_limit, kMemLimitHelp);
  });
  return {c, [o] { return run_search(*o); }};
}

}  // namespace

int qsim::app::run_cli(int argc, const char* const* argv) {
  // `qsim --version` alone answers before the parser is built: building every
  // command's options and CLI11's version exception were most of its user time
  // (docs/benchmarks.md, "Start-up"). Same text as the flag below prints.
  if (argc == 2 && std::string_view(argv[1]) == "--version") {
    std::fputs("qsim " QSIM_VERSION_STRING "\n", stdout);
    return 0;
  }
  CLI::App app{
      "qsim — hardware/quantization co-design for CNN accelerators.\n"
      "Imports an ONNX model (or a SCALE-Sim topology) and reports per-layer latency, memory\n"
      "traffic and energy on a configurable systolic array at any per-layer precision.",
      "qsim"};
  app.set_version_flag("--version", std::string("qsim ") + QSIM_VERSION_STRING);
  app.require_subcommand(0, 1);
  app.fallthrough(false);

  std::string mem_limit;  // --mem-limit of run, eval, quantize, sensitivity, allocate, search
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
      add_search_command(app, mem_limit, command_line),
  };

  if (const std::string bad = empty_list_item(argc, argv); !bad.empty()) {
    std::cerr << "qsim: error: " << qsim::one_line_message(bad) << "\n";
    return kExitBadInput;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "qsim: error: " << qsim::one_line_message(e.what()) << "\n";
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
  } catch (const std::filesystem::filesystem_error& e) {
    // A path the system refused (a name too long, a loop of links) where a reader
    // did not expect it: still one line naming the path, never an abort.
    std::cerr << "qsim: error: " << qsim::one_line_message(shown_path(e.path1().string())) << ": "
              << qsim::one_line_message(e.code().message()) << "\n";
    return kExitBadInput;
  } catch (const std::exception& e) {
    // Anything else is a bug of ours, but it is reported, not an abort.
    std::cerr << "qsim: error: internal error: " << qsim::one_line_message(e.what()) << "\n";
    return kExitBadInput;
  }
}

#ifndef QSIM_CLI_NO_MAIN  // the command-line fuzz target (tests/fuzz/fuzz_cli.cpp) calls run_cli itself
int main(int argc, char** argv) {
#ifndef QSIM_MPI_MAIN
  // Under an MPI launcher, `qsim sweep` is the dynamically linked sibling's
  // (qsim-mpi): MPI cannot be linked into this static executable.
  if (argc > 1 && std::string_view(argv[1]) == "sweep" && qsim::app::launched_by_mpi()) {
    const std::string why = qsim::app::exec_sibling("qsim-mpi");  // returns only on failure
    std::cerr << "qsim: error: qsim sweep under MPI runs qsim-mpi, built beside qsim when CMake finds MPI "
                 "(libopenmpi-dev): "
              << qsim::one_line_message(why) << "\n";
    return kExitBadInput;
  }
#endif
  return qsim::app::run_cli(argc, argv);
}
#endif
