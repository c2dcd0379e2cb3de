// The qsim subcommands as plain functions over plain option structs.
//
// main.cpp is the only file that knows CLI11 (it is expensive to compile); each
// command lives in its own cmd_*.cpp, does its work through the libraries and
// returns the process exit code. Bad input is reported by throwing qsim::Error,
// which main() turns into one line on stderr and exit code 2.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace qsim::app {

struct InfoOptions {
  std::string model;
  bool json = false;
};
int run_info(const InfoOptions& o);

// ---- timing commands (cmd_simulate.cpp, cmd_lut.cpp, cmd_sweep.cpp) ----

// Hardware: --hw HW.yaml or --scalesim-cfg FILE.cfg (exactly one), --set KEY=VALUE ...
struct HwInput {
  std::string hw;
  std::string scalesim_cfg;
  std::vector<std::string> sets;
};
// Model: --model M.onnx|layers.csv or --topology layers.csv (exactly one).
struct ModelInput {
  std::string model;
  std::string topology;
};
// Precision: --precision alloc.json, or --bits N and/or --wbits W --abits A (0 = not given).
struct PrecisionInput {
  std::string precision;
  int bits = 0;
  int wbits = 0;
  int abits = 0;
};

// qsim [simulate] --hw ... --model ...: the per-layer timing table, plus exports.
struct SimulateOptions {
  HwInput hw;
  ModelInput model;
  PrecisionInput precision;
  std::string csv;           // --csv FILE
  std::string json;          // --json FILE
  std::string scalesim_out;  // --scalesim-out DIR: COMPUTE_REPORT.csv, BANDWIDTH_REPORT.csv
  // ---- the cycle-level backend (docs/systemc.md) ----
  std::string backend = "analytical";  // --backend analytical|systemc|rtl
  std::vector<std::string> layers;     // --layers NAME[,NAME...]: only these rows
  std::string vcd;                     // --vcd FILE: waveform of the one --layers layer (systemc)
  std::string trace;                   // --trace DIR: SCALE-Sim per-cycle SRAM/DRAM traces (systemc)
  bool verify = false;                 // --verify: real operands, outputs against the integer executor (systemc, rtl)
  std::string data;                    // --data SOURCE: calibration (and the input) of --verify
  bool no_fast_forward = false;        // --no-fast-forward: step every cycle (systemc)
  std::string report;        // --report FILE: the HTML report (app/html_report.h)
  std::vector<std::string> command_line;  // argv, recorded in the JSON's provenance
};
int run_simulate(const SimulateOptions& o);

// qsim lut: cycles and energy per [layer][wbits][abits] for hardware-aware quantization.
struct LutOptions {
  HwInput hw;
  ModelInput model;
  std::vector<int> bits;  // --bits 2,4,8
  std::string out;        // --out lut.csv | lut.json (stdout CSV when empty)
  std::string npy;        // --npy FILE.npy: cycles [layer][wbits][abits], energy in FILE.energy_pj.npy
};
int run_lut(const LutOptions& o);

// qsim sweep: the cartesian grid of --set KEY=V1,V2,... values, one CSV row per point.
struct SweepOptions {
  HwInput hw;  // hw.sets: the axes (a single value is a fixed override, also listed)
  ModelInput model;
  PrecisionInput precision;
  std::string out;  // --out sweep.csv (stdout when empty); its journal is <out>.journal
  std::string json;  // --json FILE: provenance, axes and every point
  std::string report;  // --report FILE: the HTML report (heatmap, Pareto scatter, settings)
  int threads = 0;  // --threads N (0: every core)
  std::optional<double> area_budget_kge;  // --area-budget-kge X: only points within this area (sim/area_model.h)
  std::vector<std::string> pareto;  // --pareto COL,COL,...: mark the non-dominated points (all minimised)
  std::string best;  // --best COL: print the point with the smallest COL
  bool yes = false;  // --yes: run a grid above the size limit
  bool no_journal = false;  // --no-journal: neither resume nor keep a journal
  std::vector<std::string> command_line;  // argv, recorded in the JSON's provenance
};
int run_sweep(const SweepOptions& o);
// The same grid sharded over MPI ranks, gathered on rank 0 (app/sweep_mpi.cpp; only
// in the qsim-mpi executable, built when CMake finds MPI).
int run_sweep_mpi(const SweepOptions& o);

// qsim export-scalesim: a SCALE-Sim v2 .cfg and topology CSV (cmd_export_scalesim.cpp).
struct ExportScaleSimOptions {
  HwInput hw;
  ModelInput model;
  std::string out_dir;  // --out-dir DIR: DIR/NAME.cfg and DIR/NAME.csv
  std::string name;     // --name NAME (default <hw name>_<model name>)
};
int run_export_scalesim(const ExportScaleSimOptions& o);

// qsim report: result JSONs (runs, sweeps) as one self-contained HTML page.
struct ReportOptions {
  std::string from;  // --from DIR|FILE
  std::string out;   // --out report.html
};
int run_report(const ReportOptions& o);

// qsim compare: two results side by side (cmd_compare.cpp).
struct CompareOptions {
  std::vector<std::string> hw;       // --hw A.yaml --hw B.yaml (run on --model)
  std::vector<std::string> sets;     // --set KEY=VALUE, applied to both
  ModelInput model;
  PrecisionInput precision;
  std::vector<std::string> results;  // or two result JSON files (qsim --json)
  std::string csv;                   // --csv FILE: layer,metric,a,b,diff_pct
};
int run_compare(const CompareOptions& o);

// qsim hw: the validated hardware spec, every key with its value and derived
// peak figures (cmd_hw.cpp).
struct HwOptions {
  HwInput hw;
  bool json = false;  // --json: the same as a JSON object on stdout
  bool keys = false;  // --keys: the table of every key (Markdown) instead
};
int run_hw(const HwOptions& o);

// ---- quantization options shared by qsim quantize and qsim run (cmd_quantize.cpp) ----
struct QuantCliOptions {
  std::string precision;           // --precision alloc.json (widths, and scales when it has them)
  std::string calib_data;          // --calib-data SOURCE (default: the train split of --data)
  std::string calib = "minmax";    // --calib minmax|percentile|mse|kl
  int64_t calib_samples = 512;     // --calib-samples N
  double percentile = 99.99;       // --percentile P (calib percentile)
  std::string weight_clip = "minmax";  // --weight-clip minmax|mse
  bool act_symmetric = false;      // --symmetric-act
  bool bias_correction = false;    // --bias-correction
  int acc_bits = 32;               // --acc-bits N (16..32)
  std::string mode = "fake";       // --mode fake|int
  bool recalibrate = false;        // --recalibrate: ignore scales stored in --precision
};

// ---- float32 inference (cmd_run.cpp, cmd_eval.cpp) ----

// qsim run: one inference of given tensors (.npy in, .npy out); with --precision a
// quantized inference.
struct RunOptions {
  std::string model;
  std::vector<std::string> inputs;   // --input FILE.npy (graph inputs in order) or NAME=FILE.npy
  std::vector<std::string> outputs;  // --output FILE.npy (first output) or NAME=FILE.npy
  int threads = 0;                   // --threads N (0: every core)
  QuantCliOptions quant;             // --precision, --calib-data, --mode, ...
};
int run_run(const RunOptions& o);

// qsim eval: float32 top-1 (and top-5) accuracy over a labelled data set.
struct EvalCliOptions {
  std::string model;
  std::string data;    // --data fashion-mnist[:DIR] | images:DIR | npy:FILE
  std::string labels;  // --labels FILE (images, npy)
  int64_t limit = 0;   // --limit N: first N samples only
  std::string json;    // --json FILE: {"fp32_top1": ..., ...}
  int threads = 0;     // --threads N (0: every core)
  int64_t batch = 0;   // --batch N: samples per run when the graph can be re-batched (0: automatic)
  // Image preprocessing (images:DIR); 0 / empty = derived from the model's input shape.
  int64_t resize = 0;
  int64_t crop = 0;
  std::vector<float> mean, std;
  std::string layout = "nchw";  // nchw | nhwc
};
int run_eval(const EvalCliOptions& o);

// ---- post-training quantization (cmd_quantize.cpp) ----

// qsim quantize: calibrate, evaluate float32 vs quantized, export.
struct QuantizeOptions {
  std::string model;
  std::string data;        // --data fashion-mnist[:DIR] (10k test split) | npy:FILE
  std::string labels;      // --labels FILE (npy data)
  PrecisionInput precision;  // --bits N | --wbits W --abits A | --precision alloc.json
  bool per_channel = false;  // --per-channel (uniform widths)
  QuantCliOptions quant;
  int64_t limit = 0;       // --limit N: evaluate the first N samples
  std::string out;         // --out M.q.onnx: QDQ model + M.q.alloc.json
  std::string save_precision;  // --save-precision FILE: the alloc.json with scales
  std::string json;        // --json FILE
  std::string dump_logits;  // --dump-logits FILE.npy: quantized logits of every evaluated sample
  bool compare_modes = false;  // --compare-modes: run fake and int side by side
  int threads = 0;
  int64_t batch = 0;
};
int run_quantize(const QuantizeOptions& o);

// ---- QuantuneV2 mixed precision (cmd_quantune.cpp, search/, docs/quantune.md) ----

// qsim sensitivity: per (layer, width) local metrics and the combined score.
struct SensitivityCliOptions {
  std::string model;
  std::string data;          // --data fashion-mnist[:DIR] (train split) | npy:FILE
  std::string labels;        // --labels FILE (npy data; the measured method needs labels)
  std::string method;        // --method quantunev2|isolated|output-kl|measured (empty: the default)
  std::vector<int> bits{2, 4, 8};  // --bits 2,4,8
  int abits = 0;             // --abits A: activation width of every candidate (0: the candidate width)
  bool per_tensor = false;   // --per-tensor (default per-channel weights)
  std::string weights;       // --weights a,b,c,d[,e] (empty: defaults)
  QuantCliOptions quant;     // --calib, --calib-samples, --percentile, --weight-clip, --symmetric-act, --acc-bits
  std::string csv;           // --csv FILE
  std::string json;          // --json FILE (input of qsim allocate --sensitivity)
  int threads = 0;
};
int run_sensitivity(const SensitivityCliOptions& o);

// qsim allocate: QuantuneV2 allocation -> alloc.json.
struct AllocateCliOptions {
  SensitivityCliOptions measure;  // model, data, calibration (when --sensitivity is not given)
  std::string sensitivity;        // --sensitivity S.json from qsim sensitivity --json
  int high = 8;                   // --high W
  int low = 4;                    // --low W
  int64_t high_count = -1;        // --high-count N
  double high_fraction = -1;      // --high-fraction F
  double latency_budget_ms = -1;  // --latency-budget-ms X (with --hw)
  double size_budget_kib = -1;    // --size-budget-kib X
  HwInput hw;                     // --hw / --scalesim-cfg / --set
  std::vector<std::string> keep;  // --keep LAYER=BITS
  bool no_keep_first_last = false;
  bool prefer_fewer_boundaries = false;
  double tie_tolerance = 0;       // --tie-tolerance T
  std::string allocator;          // --allocator rank|knapsack|greedy-measured (empty: the default)
  std::string order = "sensitivity";  // --order sensitivity|random
  uint64_t seed = 0;              // --seed S (random order)
  std::string out;                // --out alloc.json
  std::string json;               // --json FILE: the allocation report
};
int run_allocate(const AllocateCliOptions& o);

// ---- qsim search: the Markov-chain co-design search (cmd_search.cpp, search/codesign.h, docs/search.md) ----
struct SearchCliOptions {
  HwInput hw;                      // --hw / --scalesim-cfg / --set: the starting hardware
  std::string model;               // --model M.onnx
  std::string data;                // --data fashion-mnist[:DIR] | npy:FILE
  std::string labels;              // --labels FILE (npy data)
  std::string space;               // --space space.yaml (empty: the hardware is fixed)
  std::string sensitivity;         // --sensitivity S.json: est_drop of qsim sensitivity --json
  // Not given: the default (lambda), no limit. A given value is always checked, so a
  // negative one is refused rather than read as "not given".
  std::optional<double> lambda;             // --lambda L
  std::optional<double> latency_target_ms;  // --latency-target MS
  std::optional<double> max_size_kib;       // --max-size-kib X
  std::optional<double> min_top1;           // --min-top1 PCT
  std::optional<double> max_drop;           // --max-drop POINTS
  std::optional<double> max_energy_uj;      // --max-energy-uj X
  int64_t steps = 10000;           // --steps N (per chain)
  int chains = 4;                  // --chains C
  int threads = 0;                 // --threads T (0: every core)
  uint64_t seed = 0;               // --seed S
  std::string proposal = "walk";   // --proposal walk|amed
  std::vector<int> bits{2, 3, 4, 8};  // --bits: weight widths of the options
  int abits = 0;                   // --abits A (0: activations follow the weights)
  bool per_tensor = false;         // --per-tensor
  std::vector<std::string> keep;   // --keep LAYER=BITS
  bool no_keep_first_last = false;
  int64_t check_every = 1000;      // --check-every K
  int check_top = 4;               // --check-top M
  int64_t check_samples = 10000;   // --check-samples N (held-out calibration samples)
  int64_t test_limit = 0;          // --test-limit N (0: the whole test split)
  std::optional<double> temp_start, temp_end;  // --temp-start, --temp-end
  int front_points = 8;            // --front-points N
  bool no_random = false;          // --no-random: skip the random-search baseline
  uint64_t grid_limit = 4096;      // --grid-limit N
  QuantCliOptions quant;           // --calib, --calib-samples, ...
  std::string out;                 // --out DIR
  std::string report;              // --report FILE: the HTML report (app/html_report.h)
  std::vector<std::string> command_line;  // argv, recorded in summary.json's provenance
};
int run_search(const SearchCliOptions& o);

}  // namespace qsim::app
