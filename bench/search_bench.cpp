// Speed of the Markov-chain search's inner loop (search/codesign.h run_estimate_only):
// estimate-only chain steps per second -- a proposal, the incremental analytical
// re-timing of the groups it changes, the objective, the Metropolis-Hastings test --
// on resnet50.onnx (torchvision export, .cache/models) on configs/eyeriss.yaml, with
// as many chains as threads. Target (issue 14): at least 100,000 steps per second on 2
// cores. Prints steps/s, its ratio to the target, and the load average before and
// after (figures under load are indicative).
//
// The estimate is a fixed synthetic drop table (points per group and option:
// (8 - wbits)^2 / 8 scaled by a per-group factor in [0.2, 1.2)); its values change
// the acceptance rate, not the cost of a step. Usage:
//   build/bench/search_bench [MODEL.onnx] [--steps N] [--threads T] [--proposal walk|amed]
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "graph/model_import.h"
#include "search/codesign.h"
#include "search/search_problem.h"
#include "sim/config/hw_spec_yaml.h"

namespace {

std::string loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace qsim;
  std::string model = std::string(QSIM_MODEL_CACHE) + "/resnet50.onnx";
  int64_t steps = 200'000;
  int threads = 2;
  ProposalKind proposal = ProposalKind::kWalk;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--steps" && i + 1 < argc) {
      steps = std::stoll(argv[++i]);
    } else if (a == "--threads" && i + 1 < argc) {
      threads = std::stoi(argv[++i]);
    } else if (a == "--proposal" && i + 1 < argc) {
      proposal = std::strcmp(argv[++i], "amed") == 0 ? ProposalKind::kAmed : ProposalKind::kWalk;
    } else if (!a.starts_with("--")) {
      model = a;
    } else {
      std::fprintf(stderr, "usage: search_bench [MODEL.onnx] [--steps N] [--threads T] [--proposal walk|amed]\n");
      return 2;
    }
  }
  if (!std::filesystem::exists(model)) {
    std::fprintf(stderr, "search_bench: %s not found (scripts/export_torchvision.sh exports it)\n", model.c_str());
    return 2;
  }
  const std::string load0 = loadavg();
  const LayerGraph g = import_model(model);
  const HwConfig base = read_hw_config(std::string(QSIM_SOURCE_DIR) + "/configs/eyeriss.yaml");
  const HwSpec hw = finish_hw_spec(base);
  const SearchProblem p(g, hw, {});
  DropTable drops;
  drops.source = "synthetic (bench)";
  std::mt19937_64 rng(1);
  for (std::size_t gi = 0; gi < p.groups(); ++gi) {
    const double scale = 0.2 + static_cast<double>(rng() % 1000) / 1000.0;
    std::vector<double> row;
    for (const WidthOption& w : p.options(gi)) row.push_back(scale * (8 - w.wbits) * (8 - w.wbits) / 8.0);
    drops.drop.push_back(row);
  }
  ObjectiveSpec obj;
  SearchOptions o;
  o.threads = threads;
  o.chains = threads;
  o.steps = steps / threads;
  o.proposal = proposal;
  o.check_every = o.steps;  // one segment: the archive merged once
  // Warm-up: every Compute step the chain meets mapped once per chain, as in a long run.
  {
    SearchOptions w = o;
    w.steps = 2000;
    w.check_every = w.steps;
    (void)run_estimate_only(p, base, nullptr, drops, obj, w);
  }
  const EstimateOnlyRun r = run_estimate_only(p, base, nullptr, drops, obj, o);
  const double rate = static_cast<double>(r.steps) / r.seconds;
  std::printf("model %s: %zu compute layers, %zu groups (%zu free), eyeriss.yaml, proposal %s\n",
              std::filesystem::path(model).filename().c_str(), p.layers(), p.groups(), p.free_groups().size(),
              std::string(proposal_name(proposal)).c_str());
  std::printf("%lld steps on %d chains / %d threads in %.3f s: %.0f steps/s (acceptance %.1f%%)\n",
              static_cast<long long>(r.steps), o.chains, threads, r.seconds, rate,
              100.0 * static_cast<double>(r.accepted) / static_cast<double>(r.steps));
  std::printf("ratio to the target of 100000 steps/s: %.2f\n", rate / 100000.0);
  std::printf("load average at start %s, at end %s%s\n", load0.c_str(), loadavg().c_str(),
              " (figures under load are indicative)");
  return 0;
}
