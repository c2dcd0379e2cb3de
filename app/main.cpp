// qsim command line. The only translation unit that includes CLI11.
#include <cstdio>
#include <exception>
#include <iostream>

#include <CLI/CLI.hpp>

#include "app/commands.h"
#include "app/version.h"
#include "graph/error.h"
#include "graph/limits.h"

namespace {

// Exit codes: 0 success, 1 a check that the command performs failed, 2 bad input.
constexpr int kExitBadInput = 2;

}  // namespace

int main(int argc, char** argv) {
  using namespace qsim::app;
  CLI::App app{
      "qsim — hardware/quantization co-design for CNN accelerators.\n"
      "Imports an ONNX model (or a SCALE-Sim topology) and reports per-layer latency, memory\n"
      "traffic and energy on a configurable systolic array at any per-layer precision.",
      "qsim"};
  app.set_version_flag("--version", std::string("qsim ") + QSIM_VERSION_STRING);
  app.require_subcommand(0, 1);
  app.fallthrough(false);

  // ---- qsim info ----
  InfoOptions info;
  auto* info_cmd = app.add_subcommand("info", "Print the fused layer graph: one row per layer, GEMM view, MACs, params");
  info_cmd->add_option("--model,-m", info.model, "Model file: .onnx, or a SCALE-Sim topology .csv")->required();
  info_cmd->add_flag("--json", info.json,
                     "Print JSON to stdout: layers[{name,op,M,N,K,macs,params,...}], compute_layers, "
                     "total_macs, total_params");

  // ---- timing options: the main job, simulate, lut and sweep share their spelling ----
  const auto add_hw = [](CLI::App* c, HwInput& hw, const char* set_help) {
    c->add_option("--hw", hw.hw, "Hardware config (configs/*.yaml)");
    c->add_option("--scalesim-cfg", hw.scalesim_cfg, "SCALE-Sim v2 .cfg in place of --hw (used unchanged)");
    c->add_option("--set", hw.sets, set_help)->allow_extra_args(false);
  };
  const auto add_model = [](CLI::App* c, ModelInput& m) {
    c->add_option("--model,-m", m.model, "Model file: .onnx, or a SCALE-Sim topology .csv");
    c->add_option("--topology", m.topology, "SCALE-Sim topology CSV in place of --model (used unchanged)");
  };
  const auto add_precision = [](CLI::App* c, PrecisionInput& p) {
    c->add_option("--precision", p.precision, "Per-layer widths from alloc.json (every compute layer listed)");
    c->add_option("--bits", p.bits, "Uniform weight and activation width (default 8)")->check(CLI::Range(1, 32));
    c->add_option("--wbits", p.wbits, "Weight width of every layer (overrides --bits)")->check(CLI::Range(1, 32));
    c->add_option("--abits", p.abits, "Activation width of every layer (overrides --bits)")->check(CLI::Range(1, 32));
  };
  const auto add_exports = [](CLI::App* c, SimulateOptions& s) {
    c->add_option("--csv", s.csv, "Write the per-layer table as CSV");
    c->add_option("--json", s.json, "Write the report as JSON (layers and totals)");
    c->add_option("--scalesim-out", s.scalesim_out,
                  "Write SCALE-Sim v2's COMPUTE_REPORT.csv and BANDWIDTH_REPORT.csv into this directory");
    // ---- the cycle-level and RTL backends (docs/systemc.md, docs/rtl.md) ----
    c->add_option("--backend", s.backend,
                  "Timing backend: analytical (default), systemc (cycle level) or rtl (the verilated RTL array)");
    c->add_option("--layers", s.layers, "Run only these rows, NAME[,NAME...] (totals cover them only)")
        ->delimiter(',');
    c->add_option("--vcd", s.vcd, "systemc: write a waveform (VCD) of the one layer named by --layers");
    c->add_option("--trace", s.trace, "systemc: write SCALE-Sim per-cycle SRAM/DRAM traces into DIR/layer<i>/");
    c->add_flag("--verify", s.verify,
                "systemc, rtl: run on the integer executor's operands and check every output bit for bit "
                "(needs --data or a calibrated --precision)");
    c->add_option("--data", s.data, "--verify: calibration data and input, fashion-mnist[:DIR] or npy:FILE");
    c->add_flag("--no-fast-forward", s.no_fast_forward, "systemc: step every cycle (no fast-forward)");
  };
  const char* kSetHelp = "Override a hardware key, KEY=VALUE (dotted key, e.g. memory.ifmap_kib=64); repeatable";

  // ---- main job: qsim --hw HW.yaml --model M.onnx (the same as qsim simulate) ----
  SimulateOptions main_job;
  add_hw(&app, main_job.hw, kSetHelp);
  add_model(&app, main_job.model);
  add_precision(&app, main_job.precision);
  add_exports(&app, main_job);

  // ---- qsim simulate ----
  SimulateOptions sim;
  auto* sim_cmd = app.add_subcommand(
      "simulate", "Per-layer latency, memory traffic and energy of a model on an accelerator (the main job)");
  add_hw(sim_cmd, sim.hw, kSetHelp);
  add_model(sim_cmd, sim.model);
  add_precision(sim_cmd, sim.precision);
  add_exports(sim_cmd, sim);

  // ---- qsim lut ----
  LutOptions lut;
  auto* lut_cmd = app.add_subcommand(
      "lut", "Latency/energy lookup table [layer][wbits][abits] for hardware-aware quantization");
  add_hw(lut_cmd, lut.hw, kSetHelp);
  add_model(lut_cmd, lut.model);
  lut_cmd->add_option("--bits", lut.bits, "Widths to tabulate for weights and activations, e.g. 2,4,8")
      ->delimiter(',')
      ->required();
  lut_cmd->add_option("--out", lut.out, "Output file, lut.csv or lut.json (default: CSV on stdout)");

  // ---- qsim sweep ----
  SweepOptions sweep;
  auto* sweep_cmd = app.add_subcommand("sweep", "Cartesian sweep of hardware keys, one CSV row of totals per point");
  add_hw(sweep_cmd, sweep.hw, "An axis, KEY=V1,V2,... (dotted key); repeat for more axes");
  add_model(sweep_cmd, sweep.model);
  add_precision(sweep_cmd, sweep.precision);
  sweep_cmd->add_option("--out", sweep.out, "Output CSV (default: stdout)");
  sweep_cmd->add_option("--threads", sweep.threads, "Worker threads (default 0: every core)");
  sweep_cmd->add_option("--area-budget-kge", sweep.area_budget_kge,
                        "Only the points whose area (qsim hw's area figure, kGE) is at most this");

  // ---- qsim hw ----
  HwOptions hw_opts;
  auto* hw_cmd =
      app.add_subcommand("hw", "Check a hardware config: every key with its value, peak MACs/cycle per width pair");
  add_hw(hw_cmd, hw_opts.hw, kSetHelp);
  hw_cmd->add_flag("--json", hw_opts.json, "Print JSON to stdout: name, source, keys{dotted key: value}, derived");
  hw_cmd->add_flag("--keys", hw_opts.keys, "Print the table of every key (type, default, meaning) as Markdown");

  // ---- qsim run / qsim eval (float32 inference) ----
  RunOptions run_opts;
  auto* run_cmd = app.add_subcommand("run", "One float32 inference: .npy tensors in, the graph's outputs as .npy");
  run_cmd->add_option("--model,-m", run_opts.model, "ONNX model")->required();
  run_cmd->add_option("--input,-i", run_opts.inputs,
                      "Input tensor FILE.npy (graph inputs in order) or NAME=FILE.npy; repeatable")
      ->allow_extra_args(false);
  run_cmd->add_option("--output,-o", run_opts.outputs,
                      "FILE.npy for the graph's first output, or NAME=FILE.npy for another; repeatable")
      ->allow_extra_args(false)
      ->required();
  run_cmd->add_option("--threads", run_opts.threads, "Worker threads (default 0: every core)");
  // Quantization flags shared by qsim run --precision and qsim quantize.
  const auto add_quant = [](CLI::App* c, QuantCliOptions& q) {
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
  };
  run_cmd->add_option("--precision", run_opts.quant.precision,
                      "Run quantized with this alloc.json (its scales, or calibrated with --calib-data)");
  add_quant(run_cmd, run_opts.quant);
  // Memory limit for the model's weights and the executor's buffers (graph/limits.h).
  std::string mem_limit;
  const char* kMemLimitHelp =
      "Refuse a model whose weights + buffers exceed SIZE (2G, 512M, 25%); default QSIM_MEM_LIMIT, else 50% of RAM";
  run_cmd->add_option("--mem-limit", mem_limit, kMemLimitHelp);

  EvalCliOptions eval_opts;
  auto* eval_cmd = app.add_subcommand("eval", "Float32 top-1 (and top-5) accuracy over a labelled data set");
  eval_cmd->add_option("--model,-m", eval_opts.model, "ONNX model")->required();
  eval_cmd->add_option("--data", eval_opts.data,
                       "fashion-mnist[:DIR] (10k test split), images:DIR (PNG/JPEG) or npy:FILE (samples on axis 0)")
      ->required();
  eval_cmd->add_option("--labels", eval_opts.labels,
                       "Labels: .npy of integers, or text: one class per line, or '<file name> <class>' lines");
  eval_cmd->add_option("--limit", eval_opts.limit, "Evaluate the first N samples only");
  eval_cmd->add_option("--json", eval_opts.json, "Write the result as JSON (fp32_top1, fp32_top5, samples, ...)");
  eval_cmd->add_option("--threads", eval_opts.threads, "Worker threads (default 0: every core)");
  eval_cmd->add_option("--batch", eval_opts.batch, "Samples per run when the graph can be re-batched (default: auto)");
  eval_cmd->add_option("--resize", eval_opts.resize, "Images: shorter side after resizing (default: crop * 256/224)");
  eval_cmd->add_option("--crop", eval_opts.crop, "Images: centre crop size (default: the model's input size)");
  eval_cmd->add_option("--mean", eval_opts.mean, "Images: per-channel mean on [0,1] (default ImageNet's)")
      ->delimiter(',');
  eval_cmd->add_option("--std", eval_opts.std, "Images: per-channel std (default ImageNet's)")->delimiter(',');
  eval_cmd->add_option("--layout", eval_opts.layout, "Images: nchw (default) or nhwc");
  eval_cmd->add_option("--mem-limit", mem_limit, kMemLimitHelp);

  // ---- qsim quantize ----
  QuantizeOptions quant_opts;
  auto* quant_cmd = app.add_subcommand(
      "quantize", "Post-training quantization: calibrate, compare with float32, export a QDQ ONNX model");
  quant_cmd->add_option("--model,-m", quant_opts.model, "ONNX model")->required();
  quant_cmd->add_option("--data", quant_opts.data,
                        "Evaluation data: fashion-mnist[:DIR] (10k test split) or npy:FILE (with --labels)")
      ->required();
  quant_cmd->add_option("--labels", quant_opts.labels, "Labels of npy:FILE data (.npy or text)");
  add_precision(quant_cmd, quant_opts.precision);
  quant_cmd->add_flag("--per-channel", quant_opts.per_channel, "Per-channel weight scales (with uniform widths)");
  add_quant(quant_cmd, quant_opts.quant);
  quant_cmd->add_option("--limit", quant_opts.limit, "Evaluate the first N samples only");
  quant_cmd->add_option("--out", quant_opts.out,
                        "Write the QDQ ONNX model (QuantizeLinear/DequantizeLinear) and, beside it, <out>.alloc.json");
  quant_cmd->add_option("--save-precision", quant_opts.save_precision, "Write the alloc.json with the scales used");
  quant_cmd->add_option("--json", quant_opts.json,
                        "Write the result as JSON (fp32_top1, quant_top1, agreement, sqnr_db, ...)");
  quant_cmd->add_option("--dump-logits", quant_opts.dump_logits, "Write the quantized logits of every sample (.npy)");
  quant_cmd->add_flag("--compare-modes", quant_opts.compare_modes,
                      "Run the fake-quant and integer executors side by side and compare them");
  quant_cmd->add_option("--threads", quant_opts.threads, "Worker threads (default 0: every core)");
  quant_cmd->add_option("--batch", quant_opts.batch, "Samples per run when the graph can be re-batched (default: auto)");
  quant_cmd->add_option("--mem-limit", mem_limit, kMemLimitHelp);

  // ---- qsim sensitivity / qsim allocate (QuantuneV2, docs/quantune.md) ----
  const auto add_measure = [](CLI::App* c, SensitivityCliOptions& s) {
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
  };
  SensitivityCliOptions sens_opts;
  auto* sens_cmd = app.add_subcommand(
      "sensitivity", "QuantuneV2 layer sensitivity: weight/activation SQNR and MSE per layer and width, combined score");
  add_measure(sens_cmd, sens_opts);
  sens_cmd->get_option("--data")->required();
  sens_cmd->add_option("--bits", sens_opts.bits, "Candidate widths, e.g. 2,4,8 (default)")->delimiter(',');
  sens_cmd->add_option("--csv", sens_opts.csv, "Write one row per (layer, width): layer,bits,w_sqnr_db,a_sqnr_db,w_mse,a_mse,score,...");
  sens_cmd->add_option("--json", sens_opts.json, "Write the metrics as JSON (input of qsim allocate --sensitivity)");
  sens_cmd->add_option("--mem-limit", mem_limit, kMemLimitHelp);

  AllocateCliOptions alloc_opts;
  auto* alloc_cmd = app.add_subcommand(
      "allocate", "QuantuneV2 mixed precision: the most sensitive fused groups high, the rest low -> alloc.json");
  add_measure(alloc_cmd, alloc_opts.measure);
  alloc_cmd->add_option("--sensitivity", alloc_opts.sensitivity, "Scores from qsim sensitivity --json (instead of --data)");
  alloc_cmd->add_option("--high", alloc_opts.high, "High weight width (default 8)");
  alloc_cmd->add_option("--low", alloc_opts.low, "Low weight width (default 4)");
  alloc_cmd->add_option("--high-count", alloc_opts.high_count, "Compute layers at the high width, kept ones included");
  alloc_cmd->add_option("--high-fraction", alloc_opts.high_fraction, "The same as a fraction of the compute layers");
  alloc_cmd->add_option("--latency-budget-ms", alloc_opts.latency_budget_ms,
                        "Raise groups while the analytical latency on --hw stays within X ms");
  alloc_cmd->add_option("--size-budget-kib", alloc_opts.size_budget_kib,
                        "Raise groups while the weights (elements x wbits / 8) stay within X KiB");
  add_hw(alloc_cmd, alloc_opts.hw, kSetHelp);
  alloc_cmd->add_option("--keep", alloc_opts.keep, "Force a layer's weight width, LAYER=BITS; repeatable")
      ->allow_extra_args(false);
  alloc_cmd->add_flag("--no-keep-first-last", alloc_opts.no_keep_first_last,
                      "Do not keep the first and last compute layers at the high width");
  alloc_cmd->add_flag("--prefer-fewer-boundaries", alloc_opts.prefer_fewer_boundaries,
                      "Among groups of equal score (within --tie-tolerance), raise the one giving fewer requant boundaries");
  alloc_cmd->add_option("--tie-tolerance", alloc_opts.tie_tolerance, "Scores within T count as equal (default 0)");
  alloc_cmd->add_option("--order", alloc_opts.order, "sensitivity (QuantuneV2, default) or random (a baseline; --seed)");
  alloc_cmd->add_option("--seed", alloc_opts.seed, "Seed of --order random (default 0)");
  alloc_cmd->add_option("--out", alloc_opts.out, "Write the alloc.json (qsim --precision, qsim quantize --precision)");
  alloc_cmd->add_option("--json", alloc_opts.json, "Write the allocation report as JSON (groups, scores, boundaries)");
  alloc_cmd->add_option("--mem-limit", mem_limit, kMemLimitHelp);

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
    if (*info_cmd) return run_info(info);
    if (*sim_cmd) return run_simulate(sim);
    if (*lut_cmd) return run_lut(lut);
    if (*sweep_cmd) return run_sweep(sweep);
    if (*hw_cmd) return run_hw(hw_opts);
    if (*run_cmd) return run_run(run_opts);
    if (*eval_cmd) return run_eval(eval_opts);
    if (*quant_cmd) return run_quantize(quant_opts);
    if (*sens_cmd) return run_sensitivity(sens_opts);
    if (*alloc_cmd) return run_allocate(alloc_opts);
    const bool main_given = !main_job.model.model.empty() || !main_job.model.topology.empty() ||
                            !main_job.hw.hw.empty() || !main_job.hw.scalesim_cfg.empty();
    if (main_given) return run_simulate(main_job);
    std::cout << app.help();
    return 0;
  } catch (const qsim::Error& e) {
    std::cerr << "qsim: error: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const std::bad_alloc&) {
    std::cerr << "qsim: error: out of memory\n";
    return kExitBadInput;
  }
}
