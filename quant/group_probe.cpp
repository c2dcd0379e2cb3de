#include "quant/group_probe.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <set>

#include <fmt/format.h>

#include "graph/error.h"
#include "graph/subgraph.h"
#include "quant/quant_plan.h"
#include "quant/quantizer.h"
#include "runtime/executor.h"
#include "runtime/thread_pool.h"

namespace qsim {

namespace {

double db(double signal, double noise) {
  if (noise <= 0) return std::numeric_limits<double>::infinity();
  if (signal <= 0) return -std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(signal / noise);
}

std::vector<std::size_t> compute_positions(const SampleBatches& s) {
  std::vector<std::size_t> pos;
  for (NodeId id : s.run_graph().compute_layers()) pos.push_back(s.position(id));
  return pos;
}

// Fills the inputs of `h` for batch b: from the cut's values, or from the data.
void fill_inputs(const SampleBatches& s, const LayerGraph& h, const PrefixCache::Cut* cut, int64_t b,
                 std::vector<Tensor>& inputs) {
  if (inputs.empty())
    for (ValueId v : h.inputs()) inputs.emplace_back(DType::kFloat32, h.value(v).shape);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::string& name = h.value(h.inputs()[i]).name;
    if (!cut) {
      s.load(b, inputs[i].data<float>().data());
      continue;
    }
    const auto it = std::find(cut->names.begin(), cut->names.end(), name);
    if (it == cut->names.end()) {  // the model's input, read again after the cut
      s.load(b, inputs[i].data<float>().data());
      continue;
    }
    const auto k = static_cast<std::size_t>(it - cut->names.begin());
    const int64_t n = cut->per_batch[k];
    const float* src = cut->data[k].data() + b * n;
    std::copy(src, src + n, inputs[i].data<float>().data());
  }
}

struct Acc {
  double signal = 0, noise = 0;
  int64_t count = 0;
};

}  // namespace

double ProbeResult::out_sqnr_db() const { return db(out_signal, out_noise); }
double ProbeResult::in_sqnr_db() const { return db(in_signal, in_noise); }
double ProbeResult::w_sqnr_db() const { return db(w_signal, w_noise); }

GroupProber::GroupProber(const LayerGraph& g, const Dataset& data, std::vector<int64_t> samples,
                         const ActivationStats& stats, const AllocEvalOptions& o)
    : stats_(stats), o_(o), s_(g, data, std::move(samples), o), cache_(s_, compute_positions(s_), o.cache_bytes) {
  const auto t0 = std::chrono::steady_clock::now();
  s_.run_reference(o.threads, &cache_);
  cost_.runs = s_.batches();
  cost_.pass_equivalents = 1.0;
  cost_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

EvalCost GroupProber::cost() const {
  std::lock_guard lock(mutex_);
  return cost_;
}

std::vector<ProbeResult> GroupProber::run(std::span<const GroupProbe> probes, bool to_output,
                                          const std::function<void(int64_t, int64_t)>& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  const LayerGraph& rg = s_.run_graph();
  const auto topo = rg.topo_order();
  // Probes of the same nodes share a task (and its float32 reference run).
  std::vector<std::vector<NodeId>> sets;
  std::vector<std::vector<std::size_t>> members;
  for (std::size_t i = 0; i < probes.size(); ++i) {
    std::vector<NodeId> key = probes[i].nodes;
    std::sort(key.begin(), key.end());
    key.erase(std::unique(key.begin(), key.end()), key.end());
    if (key.empty()) throw std::logic_error("GroupProber: a probe without nodes");
    const auto it = std::find(sets.begin(), sets.end(), key);
    if (it == sets.end()) {
      sets.push_back(std::move(key));
      members.push_back({i});
    } else {
      members[static_cast<std::size_t>(it - sets.begin())].push_back(i);
    }
  }
  std::vector<ProbeResult> results(probes.size());
  std::atomic<int64_t> done{0}, runs{0};
  std::mutex progress_mutex;
  double work = 0;
  const int workers = static_cast<int>(
      std::min<int64_t>(o_.threads > 0 ? o_.threads : ThreadPool::hardware_threads(), static_cast<int64_t>(sets.size())));
  ThreadPool pool(std::max(workers, 1));

  pool.parallel_for(static_cast<int64_t>(sets.size()), [&](int64_t t, int) {
    const std::vector<NodeId>& set = sets[static_cast<std::size_t>(t)];
    const std::set<NodeId> in_group(set.begin(), set.end());
    std::size_t first = topo.size(), last = 0;
    for (NodeId id : set) {
      first = std::min(first, s_.position(id));
      last = std::max(last, s_.position(id));
    }
    const PrefixCache::Cut* cut = cache_.before(first);
    const std::size_t start = cut ? cut->position : 0;
    // The tensors the group writes for the rest of the network.
    std::vector<ValueId> outs;
    for (NodeId id : set)
      for (ValueId v : rg.node(id).outputs) {
        if (v < 0 || rg.value(v).dtype != DType::kFloat32) continue;
        bool external = std::find(rg.outputs().begin(), rg.outputs().end(), v) != rg.outputs().end();
        for (NodeId c : rg.consumers(v)) external = external || !in_group.count(c);
        if (external) outs.push_back(v);
      }
    const auto nodes_upto = [&](std::size_t end) {
      std::vector<NodeId> n;
      for (std::size_t p = start; p <= end && p < topo.size(); ++p) n.push_back(topo[p]);
      return n;
    };
    // Float32 reference of the group's outputs.
    const LayerGraph fg = extract_subgraph(rg, nodes_upto(last), outs);
    Executor fex(fg, ExecOptions{.threads = 1});
    std::vector<Tensor> fin, fout;
    const std::size_t end = to_output ? topo.size() - 1 : last;
    double task_work = s_.total_macs() > 0 ? (s_.macs_from(start) - s_.macs_from(last + 1)) / s_.total_macs() : 0.0;

    // One quantized part per probe of the task.
    struct Part {
      std::size_t probe;
      LayerGraph g;
      std::unique_ptr<Executor> ex;
      std::vector<std::size_t> out_index;  // per group output: index in the part's outputs
      std::vector<Tensor> in, out;
      Acc in_acc;
    };
    std::vector<Part> parts;
    parts.reserve(members[static_cast<std::size_t>(t)].size());
    int64_t valid = 0;
    for (std::size_t m : members[static_cast<std::size_t>(t)]) {
      const GroupProbe& pb = probes[m];
      ProbeResult& res = results[m];
      std::vector<ValueId> part_outs;
      if (to_output) part_outs.assign(rg.outputs().begin(), rg.outputs().end());
      std::vector<std::size_t> out_index;
      for (ValueId v : outs) {
        const auto it = std::find(part_outs.begin(), part_outs.end(), v);
        out_index.push_back(static_cast<std::size_t>(it - part_outs.begin()));
        if (it == part_outs.end()) part_outs.push_back(v);
      }
      Part& part = parts.emplace_back(Part{m, extract_subgraph(rg, nodes_upto(end), part_outs), nullptr, out_index, {}, {}, {}});
      LayerGraph& q = part.g;
      // Carriers in front of the compute layers, hooks after every node of the group.
      struct Step {
        std::string node;
        std::size_t output;
        QParams q;
      };
      std::vector<Step> carriers, hooks;
      for (NodeId id : set) {
        const Node& n = rg.node(id);
        const NodeId qid = *q.find_node(n.name);
        if (is_compute(n.op)) {
          if (const auto lw = layer_weights(rg, id)) {
            const std::vector<float> scales =
                weight_scales(lw->w, lw->axis, pb.wbits, pb.per_channel, stats_.options().weight_clip);
            const QuantizedWeights qw = quantize_weights(lw->w, lw->axis, pb.wbits, scales);
            Tensor wq = lw->w;
            auto d = wq.data<float>();
            int64_t inner = 1;
            for (std::size_t a = static_cast<std::size_t>(lw->axis) + 1; a < lw->w.shape().size(); ++a) inner *= lw->w.shape()[a];
            for (std::size_t k = 0; k < d.size(); ++k) {
              const int64_t c = (static_cast<int64_t>(k) / inner) % lw->channels;
              const float x = d[k];
              d[k] = static_cast<float>(qw.q[k]) * qw.scale_of(c);
              res.w_signal += static_cast<double>(x) * x;
              res.w_noise += (static_cast<double>(x) - d[k]) * (static_cast<double>(x) - d[k]);
            }
            res.w_count += static_cast<int64_t>(d.size());
            const ValueId wv = q.add_value(Value{n.name + "::probe_wq", DType::kFloat32, wq.shape(), true, std::move(wq)});
            q.node(qid).inputs[1] = wv;
            if (n.op == OpKind::kGemm) std::get<GemmAttrs>(q.node(qid).attrs).alpha = 1.0f;
            // The activation input, quantized for this layer only.
            const ValueId x = q.node(qid).inputs[0];
            Value xq = q.value(x);
            const std::string xname = xq.name;
            xq.name = fmt::format("{}::probe_a{}:{}", xname, pb.abits, n.name);
            xq.is_constant = false;
            xq.data.reset();
            const ValueId xv = q.add_value(std::move(xq));
            Node carrier;
            carrier.name = "probe_quantize:" + n.name;
            carrier.op = OpKind::kClip;
            carrier.inputs = {x};
            carrier.outputs = {xv};
            carrier.attrs = ActAttrs{Activation{ActKind::kClip, -std::numeric_limits<float>::infinity(),
                                                std::numeric_limits<float>::infinity()}};
            q.add_node(std::move(carrier));
            q.node(qid).inputs[0] = xv;
            carriers.push_back({"probe_quantize:" + n.name, 0, stats_.params(xname, pb.abits)});
          }
        }
        for (std::size_t k = 0; k < n.outputs.size(); ++k) {
          const ValueId v = n.outputs[k];
          if (v < 0 || rg.value(v).dtype != DType::kFloat32) continue;
          hooks.push_back({n.name, k, stats_.params(rg.value(v).name, pb.abits)});
        }
      }
      q.finalize();
      part.ex = std::make_unique<Executor>(q, ExecOptions{.threads = 1});
      const int64_t batch = s_.batch();
      for (const Step& st : carriers) {
        Acc* acc = &part.in_acc;
        part.ex->set_override(*q.find_node(st.node), [acc, p = st.q, batch, &valid](NodeId, std::span<const TensorRef> ins,
                                                                                    std::span<const TensorRef> os) {
          const float* x = static_cast<const float*>(ins[0].data);
          float* y = static_cast<float*>(os[0].data);
          const int64_t n = os[0].numel();
          const int64_t counted = n / batch * valid;
          for (int64_t i = 0; i < n; ++i) {
            y[i] = p.fake(x[i]);
            if (i < counted) {
              const double e = static_cast<double>(x[i]) - y[i];
              acc->signal += static_cast<double>(x[i]) * x[i];
              acc->noise += e * e;
            }
          }
          acc->count += counted;
        });
      }
      for (const Step& st : hooks)
        part.ex->add_hook(*q.find_node(st.node), [k = st.output, p = st.q](NodeId, std::span<const TensorRef> os) {
          float* y = static_cast<float*>(os[k].data);
          const int64_t n = os[k].numel();
          for (int64_t i = 0; i < n; ++i) y[i] = p.fake(y[i]);
        });
      task_work += s_.total_macs() > 0 ? (s_.macs_from(start) - s_.macs_from(end + 1)) / s_.total_macs() : 0.0;
    }

    int64_t task_runs = 0;
    for (int64_t b = 0; b < s_.batches(); ++b) {
      valid = s_.valid(b);
      fill_inputs(s_, fg, cut, b, fin);
      fex.run(fin, fout);
      ++task_runs;
      for (Part& part : parts) {
        fill_inputs(s_, part.g, cut, b, part.in);
        part.ex->run(part.in, part.out);
        ++task_runs;
        ProbeResult& res = results[part.probe];
        for (std::size_t k = 0; k < outs.size(); ++k) {
          const float* f = fout[k].data<float>().data();
          const float* y = part.out[part.out_index[k]].data<float>().data();
          const int64_t n = fout[k].numel() / s_.batch() * valid;
          for (int64_t i = 0; i < n; ++i) {
            const double e = static_cast<double>(f[i]) - y[i];
            res.out_signal += static_cast<double>(f[i]) * f[i];
            res.out_noise += e * e;
          }
          res.out_count += n;
        }
        if (to_output) res.output.add(s_.score(b, part.out[0].data<float>().data()));
      }
    }
    for (const Part& part : parts) {
      results[part.probe].in_signal = part.in_acc.signal;
      results[part.probe].in_noise = part.in_acc.noise;
      results[part.probe].in_count = part.in_acc.count;
    }
    runs += task_runs;
    const int64_t d = ++done;
    {
      std::lock_guard lock(progress_mutex);
      work += task_work;
      if (progress) progress(d, static_cast<int64_t>(sets.size()));
    }
  });
  std::lock_guard lock(mutex_);
  cost_.evaluations += static_cast<int64_t>(probes.size());
  cost_.runs += runs.load();
  cost_.pass_equivalents += work;
  cost_.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return results;
}

}  // namespace qsim
