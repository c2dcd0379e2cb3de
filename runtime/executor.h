// Executor — float32 inference over a LayerGraph, planned once, run many times.
//
// Construction is the plan: every value gets its storage (constants are read in
// place from the graph, graph inputs from the caller's tensors, Reshape-like
// views alias their input, everything else lives in one arena whose offsets come
// from liveness-based reuse), every node gets a kernel object with its GEMM
// tiling planned and its workspace sized. run() then allocates nothing: it resolves
// pointers, walks the topological order and copies the graph outputs out.
//
// A Conv whose output only feeds an Add (resnet's residual connections) computes the
// Add as well, in its epilogue, unless a hook or override is set on either node.
//
// Hook points, one per node (the base of the quantization engine):
// - an output hook sees (and may modify in place) a node's outputs right after it
//   ran: calibration observers, fake quantization;
// - an override replaces a node's computation: quantized layers.
// Outputs of view nodes (Reshape, Flatten, Squeeze, Unsqueeze, Identity) share
// storage with their input, so a hook must not modify those.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "graph/layer_graph.h"
#include "graph/tensor.h"
#include "runtime/gemm.h"
#include "runtime/thread_pool.h"

namespace qsim {

// One tensor in the executor's memory, as hooks see it.
struct TensorRef {
  DType dtype = DType::kFloat32;
  const Shape* shape = nullptr;  // the graph value's shape
  void* data = nullptr;
  int64_t numel() const { return shape_numel(*shape); }
  template <typename T>
  std::span<T> as() const {
    if (dtype != dtype_of<T>()) throw std::logic_error("TensorRef accessed with the wrong element type");
    return {static_cast<T*>(data), static_cast<std::size_t>(numel())};
  }
};

struct ExecOptions {
  int threads = 0;              // workers for intra-op parallelism; 0 = all hardware threads
  ThreadPool* pool = nullptr;   // use this pool instead of creating one (threads is then ignored)
  bool profile = false;         // accumulate wall time per node (node_seconds())
};

// Throws qsim::Error unless `inputs` match g's graph inputs one for one in dtype
// and shape (every executor's run() checks this first).
void check_run_inputs(const LayerGraph& g, std::span<const Tensor> inputs);

class OpKernel;  // a node's planned kernel (executor.cpp)

class Executor {
 public:
  using OutputHook = std::function<void(NodeId, std::span<const TensorRef> outputs)>;
  using NodeOverride =
      std::function<void(NodeId, std::span<const TensorRef> inputs, std::span<const TensorRef> outputs)>;

  // `g` must outlive the executor (constants are read from it). Throws qsim::Error
  // naming the node for anything it cannot execute (a constant without data, an
  // element type an operator does not support), and naming the model when its
  // planned arena plus weights exceed the memory limit (graph/limits.h), before
  // allocating either.
  explicit Executor(const LayerGraph& g, const ExecOptions& opts = {});
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  const LayerGraph& graph() const { return g_; }
  int threads() const { return pool_->size(); }
  // Bytes of the activation arena (after reuse) and what it would be without reuse.
  int64_t arena_bytes() const { return arena_bytes_; }
  int64_t unshared_bytes() const { return unshared_bytes_; }

  // With ExecOptions::profile: seconds spent in each node (indexed by NodeId),
  // summed over every run() so far.
  std::span<const double> node_seconds() const { return node_seconds_; }

  void add_hook(NodeId node, OutputHook hook);
  // Not allowed on view nodes (their output is their input's storage).
  void set_override(NodeId node, NodeOverride fn);
  void clear_hooks();

  // Runs the graph on `inputs` (graph().inputs() order; element type and shape must
  // match) and writes the graph outputs into `outputs`, reusing its tensors when
  // they already have the right type and shape. Throws qsim::Error on a mismatch.
  void run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs);
  std::vector<Tensor> run(std::span<const Tensor> inputs);

 private:
  enum class Storage : uint8_t { kArena, kConstant, kInput, kAlias, kNone };
  struct ValueSlot {
    Storage storage = Storage::kNone;
    int64_t offset = 0;   // kArena: byte offset; kInput: input index
    ValueId alias = -1;   // kAlias: the value whose storage this one shares
    const void* constant = nullptr;
  };
  struct Step {
    NodeId node = -1;
    std::unique_ptr<OpKernel> kernel;  // null for view nodes
    std::vector<OutputHook> hooks;
    NodeOverride override_fn;
    std::vector<TensorRef> in_refs, out_refs;  // hook/override arguments, reused by every run
    int32_t fused_add = -1;   // a Conv: the step of the Add it computes as well (see AddFusion)
    int32_t fused_into = -1;  // that Add: the Conv step that computes it
    bool skip = false;        // this run: computed by the Conv fused with it
  };
  // Conv -> Add (+ activation) computed by the Conv: the other Add operand is added in
  // the GEMM's epilogue and the result written straight to the Add's output. Found
  // when the plan is made (the Add's output is then live from the Conv on); applied
  // in a run only while neither node has a hook or an override.
  struct AddFusion {
    NodeId conv = -1, add = -1;
  };

  void find_add_fusions();
  void plan_storage();
  void check_planned_memory() const;  // graph/limits.h: arena + weights, before allocating
  void resolve_pointers(std::span<const Tensor> inputs);
  // Fills r with references to ids (no allocation once r has grown to size).
  void fill_refs(std::span<const ValueId> ids, std::vector<TensorRef>& r) const;

  const LayerGraph& g_;
  std::unique_ptr<ThreadPool> own_pool_;
  ThreadPool* pool_ = nullptr;
  std::vector<ValueSlot> slots_;
  std::vector<Step> steps_;           // topological order
  std::vector<AddFusion> fusions_;
  std::vector<int32_t> step_of_node_;
  gemm::FloatBuffer arena_;           // float-aligned bytes for every arena value
  int64_t arena_bytes_ = 0, unshared_bytes_ = 0;
  gemm::Workspace ws_;
  std::vector<void*> ptr_;            // per value, resolved by run()
  bool profile_ = false;
  std::vector<double> node_seconds_;
};

}  // namespace qsim
