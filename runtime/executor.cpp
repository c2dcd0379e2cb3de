#include "runtime/executor.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "graph/error.h"
#include "graph/limits.h"
#include "runtime/conv.h"
#include "arith/int_arith.h"
#include "runtime/kernels.h"

namespace qsim {

// What a kernel sees while running: a pointer per value, the pool and the workspace.
struct RunCtx {
  std::span<void* const> ptr;
  ThreadPool& pool;
  gemm::Workspace& ws;
  const void* in(ValueId v) const { return v < 0 ? nullptr : ptr[static_cast<std::size_t>(v)]; }
  void* out(ValueId v) const { return v < 0 ? nullptr : ptr[static_cast<std::size_t>(v)]; }
  const float* f(ValueId v) const { return static_cast<const float*>(in(v)); }
  float* fo(ValueId v) const { return static_cast<float*>(out(v)); }
};

class OpKernel {
 public:
  virtual ~OpKernel() = default;
  virtual int64_t workspace_floats() const { return 0; }
  virtual void run(const RunCtx& ctx) = 0;
  // Conv -> Add fusion (Executor::AddFusion): out = act(this node's result + residual).
  virtual void run_fused(const RunCtx&, const float*, float*, const Activation&) {
    throw std::logic_error("run_fused on a kernel without a fusable epilogue");
  }
};

namespace {

bool is_view(OpKind op) {
  return op == OpKind::kReshape || op == OpKind::kFlatten || op == OpKind::kSqueeze ||
         op == OpKind::kUnsqueeze || op == OpKind::kIdentity;
}

// Context for building a node's kernel: the graph, the node, error helpers.
struct Build {
  const LayerGraph& g;
  const Node& n;
  int threads;

  // Names the model's file: the executor runs after the import, far from the option
  // that named the model ("m.onnx: node 'fc' (MatMul): float64 ...").
  [[noreturn]] void error(const std::string& what) const {
    fail("{}: node '{}' ({}): {}", g.source.empty() ? fmt::format("model '{}'", g.name) : g.source, n.name,
         op_name(n.op), what);
  }
  ValueId in(std::size_t i) const { return i < n.inputs.size() ? n.inputs[i] : ValueId{-1}; }
  ValueId out(std::size_t i) const { return i < n.outputs.size() ? n.outputs[i] : ValueId{-1}; }
  const Value& val(ValueId v) const { return g.value(v); }
  const Shape& shape(ValueId v) const { return g.value(v).shape; }
  // Constant payload of value v, or null when v is computed at run time.
  const void* constant(ValueId v) const {
    if (v < 0 || !g.value(v).is_constant) return nullptr;
    return g.value(v).data->bytes().data();
  }
  const float* constant_f(ValueId v) const { return static_cast<const float*>(constant(v)); }
  void require_float(ValueId v) const {
    if (v >= 0 && g.value(v).dtype != DType::kFloat32)
      error(fmt::format("tensor '{}' is {}; this operator runs in float32 only", g.value(v).name,
                        dtype_name(g.value(v).dtype)));
  }
};

// ---------------------------------------------------------------- Conv

class ConvOp final : public OpKernel {
 public:
  explicit ConvOp(const Build& b) : x_(b.in(0)), w_(b.in(1)), bias_(b.in(2)), y_(b.out(0)) {
    for (ValueId v : {x_, w_, bias_, y_}) b.require_float(v);
    const auto& a = std::get<ConvAttrs>(b.n.attrs);
    conv_ = std::make_unique<ConvKernel>(b.shape(x_), b.shape(y_), b.shape(w_), b.constant_f(w_), a, b.n.act,
                                         b.threads);
  }
  int64_t workspace_floats() const override { return conv_->workspace_floats(); }
  void run(const RunCtx& c) override {
    conv_->run(c.f(x_), c.f(w_), bias_ >= 0 ? c.f(bias_) : nullptr, c.fo(y_), c.pool, c.ws);
  }
  void run_fused(const RunCtx& c, const float* residual, float* out, const Activation& act) override {
    conv_->run(c.f(x_), c.f(w_), bias_ >= 0 ? c.f(bias_) : nullptr, out, c.pool, c.ws, residual, &act);
  }

 private:
  ValueId x_, w_, bias_, y_;
  std::unique_ptr<ConvKernel> conv_;
};

// ---------------------------------------------------------------- Gemm

class GemmOp final : public OpKernel {
 public:
  explicit GemmOp(const Build& b) : a_(b.in(0)), b_(b.in(1)), c_(b.in(2)), y_(b.out(0)) {
    for (ValueId v : {a_, b_, c_, y_}) b.require_float(v);
    attrs_ = std::get<GemmAttrs>(b.n.attrs);
    const Shape& sa = b.shape(a_);
    const Shape& sb = b.shape(b_);
    if (sa.size() != 2 || sb.size() != 2) b.error("A and B must be 2-D");
    M_ = attrs_.trans_a ? sa[1] : sa[0];
    K_ = attrs_.trans_a ? sa[0] : sa[1];
    N_ = attrs_.trans_b ? sb[0] : sb[1];
    if ((attrs_.trans_b ? sb[1] : sb[0]) != K_) b.error("inner dimensions of A and B differ");
    // A and B are read in place (transposed as trans_a/trans_b say) and packed per
    // task, alpha applied while A is packed; a constant operand is packed once, here.
    job_.a = gemm::Matrix{nullptr, attrs_.trans_a ? M_ : K_, attrs_.trans_a};
    job_.b = gemm::Matrix{nullptr, attrs_.trans_b ? K_ : N_, attrs_.trans_b};
    job_.alpha = attrs_.alpha;
    if (const float* ca = b.constant_f(a_)) {
      job_.a.data = ca;
      packed_a_ = gemm::pack_a(job_.a, M_, K_, attrs_.alpha);
      job_.a_packed = packed_a_.data.data();
    }
    if (const float* cb = b.constant_f(b_)) {
      job_.b.data = cb;
      packed_b_ = gemm::pack_b(job_.b, K_, N_);
      job_.b_packed = packed_b_.data.data();
    }
    job_.M = M_;
    job_.N = N_;
    job_.K = K_;
    job_.ldc = N_;
    job_.ep.act = b.n.act;
    if (c_ >= 0 && attrs_.beta != 0.0f) {
      Shape sc = b.shape(c_);
      while (sc.size() < 2) sc.insert(sc.begin(), 1);
      if (sc.size() != 2 || (sc[0] != 1 && sc[0] != M_) || (sc[1] != 1 && sc[1] != N_))
        b.error(fmt::format("C of shape {} does not broadcast to {}x{}", shape_str(b.shape(c_)), M_, N_));
      c_rows_ = sc[0];
      c_cols_ = sc[1];
      if (c_rows_ == 1) {
        col_bias_.resize(static_cast<std::size_t>(N_));
        if (const float* cc = b.constant_f(c_)) {
          fill_col_bias(cc);
          c_const_ = true;
        }
        job_.ep.col_bias = col_bias_.data();
      } else {
        job_.ep.accumulate = true;  // Y is prefilled with beta * C
      }
    }
    tiling_ = gemm::plan_tiling(M_, N_, K_, 1, b.threads);
    ws_floats_ = gemm::workspace_floats(job_, tiling_);
  }
  int64_t workspace_floats() const override { return ws_floats_; }
  void run(const RunCtx& c) override {
    job_.a.data = c.f(a_);
    job_.b.data = c.f(b_);
    float* y = c.fo(y_);
    job_.c = y;
    if (c_ >= 0 && attrs_.beta != 0.0f) {
      const float* cc = c.f(c_);
      if (c_rows_ == 1) {
        if (!c_const_) fill_col_bias(cc);
      } else {
        for (int64_t i = 0; i < M_; ++i)
          for (int64_t j = 0; j < N_; ++j) y[i * N_ + j] = attrs_.beta * cc[i * c_cols_ + (c_cols_ == 1 ? 0 : j)];
      }
    }
    gemm::run(std::span<const gemm::Job>(&job_, 1), tiling_, c.pool, c.ws);
  }

 private:
  void fill_col_bias(const float* cc) {
    for (int64_t j = 0; j < N_; ++j) col_bias_[static_cast<std::size_t>(j)] = attrs_.beta * cc[c_cols_ == 1 ? 0 : j];
  }

  ValueId a_, b_, c_, y_;
  GemmAttrs attrs_;
  int64_t M_ = 0, N_ = 0, K_ = 0;
  int64_t c_rows_ = 0, c_cols_ = 0;
  bool c_const_ = false;
  std::vector<float> col_bias_;
  gemm::PackedA packed_a_;
  gemm::PackedB packed_b_;
  gemm::Job job_;
  gemm::Tiling tiling_;
  int64_t ws_floats_ = 0;
};

// ---------------------------------------------------------------- MatMul

class MatMulOp final : public OpKernel {
 public:
  explicit MatMulOp(const Build& b) : a_(b.in(0)), b_(b.in(1)), y_(b.out(0)) {
    for (ValueId v : {a_, b_, y_}) b.require_float(v);
    Shape sa = b.shape(a_), sb = b.shape(b_);
    if (sa.empty() || sb.empty()) b.error("MatMul of a scalar");
    if (sa.size() == 1) sa.insert(sa.begin(), 1);
    if (sb.size() == 1) sb.push_back(1);
    M_ = sa[sa.size() - 2];
    K_ = sa.back();
    N_ = sb.back();
    if (sb[sb.size() - 2] != K_) b.error("inner dimensions of A and B differ");
    const Shape ba(sa.begin(), sa.end() - 2), bb(sb.begin(), sb.end() - 2);
    if (bb.empty()) {
      // B is a matrix: every leading dimension of A becomes rows of one product.
      int64_t rows = M_;
      for (int64_t d : ba) rows *= d;
      M_ = rows;
      jobs_.resize(1);
    } else {
      // Broadcast batch dimensions: offsets of A and B for every output batch index.
      const std::size_t r = std::max(ba.size(), bb.size());
      Shape pa(r - ba.size(), 1), pb(r - bb.size(), 1);
      pa.insert(pa.end(), ba.begin(), ba.end());
      pb.insert(pb.end(), bb.begin(), bb.end());
      Shape out(r);
      for (std::size_t i = 0; i < r; ++i) {
        if (pa[i] != pb[i] && pa[i] != 1 && pb[i] != 1) b.error("batch dimensions do not broadcast");
        out[i] = std::max(pa[i], pb[i]);
      }
      const int64_t nb = shape_numel(out);
      for (int64_t i = 0; i < nb; ++i) {
        int64_t rem = i, oa = 0, ob = 0, sa_acc = 1, sb_acc = 1;
        for (std::size_t d = r; d-- > 0;) {
          const int64_t idx = rem % out[d];
          rem /= out[d];
          if (pa[d] != 1) oa += idx * sa_acc;
          if (pb[d] != 1) ob += idx * sb_acc;
          sa_acc *= pa[d];
          sb_acc *= pb[d];
        }
        a_off_.push_back(oa * M_ * K_);
        b_off_.push_back(ob * K_ * N_);
      }
      jobs_.resize(static_cast<std::size_t>(nb));
    }
    // A constant B (a weight matrix, or a batch of them) is packed once, here.
    const float* cb = b.constant_f(b_);
    if (cb) {
      const int64_t nb = shape_numel(Shape(bb.begin(), bb.end()));
      for (int64_t i = 0; i < nb; ++i) packed_b_.push_back(gemm::pack_b(gemm::Matrix{cb + i * K_ * N_, N_, false}, K_, N_));
    }
    for (std::size_t i = 0; i < jobs_.size(); ++i) {
      auto& j = jobs_[i];
      j.M = M_;
      j.N = N_;
      j.K = K_;
      j.ldc = N_;
      j.a.ld = K_;
      j.b.ld = N_;
      j.ep.act = b.n.act;
      if (cb) j.b_packed = packed_b_[static_cast<std::size_t>((b_off_.empty() ? 0 : b_off_[i]) / std::max<int64_t>(1, K_ * N_))].data.data();
    }
    tiling_ = gemm::plan_tiling(M_, N_, K_, static_cast<int64_t>(jobs_.size()), b.threads);
    ws_floats_ = jobs_.empty() ? 0 : gemm::workspace_floats(jobs_[0], tiling_);
  }
  int64_t workspace_floats() const override { return ws_floats_; }
  void run(const RunCtx& c) override {
    const float* a = c.f(a_);
    const float* bm = c.f(b_);
    float* y = c.fo(y_);
    for (std::size_t i = 0; i < jobs_.size(); ++i) {
      const int64_t oa = a_off_.empty() ? 0 : a_off_[i];
      const int64_t ob = b_off_.empty() ? 0 : b_off_[i];
      jobs_[i].a.data = a + oa;
      jobs_[i].b.data = bm + ob;
      jobs_[i].c = y + static_cast<int64_t>(i) * M_ * N_;
    }
    gemm::run(jobs_, tiling_, c.pool, c.ws);
  }

 private:
  ValueId a_, b_, y_;
  int64_t M_ = 0, N_ = 0, K_ = 0;
  std::vector<int64_t> a_off_, b_off_;
  std::vector<gemm::PackedB> packed_b_;
  std::vector<gemm::Job> jobs_;
  gemm::Tiling tiling_;
  int64_t ws_floats_ = 0;
};

// ---------------------------------------------------------------- BatchNormalization

class BatchNormOp final : public OpKernel {
 public:
  explicit BatchNormOp(const Build& b) : attrs_(std::get<BatchNormAttrs>(b.n.attrs)) {
    for (std::size_t i = 0; i < 5; ++i) {
      in_[i] = b.in(i);
      b.require_float(in_[i]);
    }
    for (std::size_t i = 0; i < 3; ++i) out_[i] = b.out(i);
    const Shape& x = b.shape(in_[0]);
    N_ = x.size() > 0 ? x[0] : 1;
    C_ = x.size() > 1 ? x[1] : 1;
    inner_ = 1;
    for (std::size_t i = 2; i < x.size(); ++i) inner_ *= x[i];
    if (attrs_.training_mode) stats_.resize(static_cast<std::size_t>(2 * C_));
  }
  void run(const RunCtx& c) override {
    const float* x = c.f(in_[0]);
    const float* scale = c.f(in_[1]);
    const float* bias = c.f(in_[2]);
    const float* mean = c.f(in_[3]);
    const float* var = c.f(in_[4]);
    if (!attrs_.training_mode) {
      kernels::batch_norm(x, c.fo(out_[0]), N_, C_, inner_, scale, bias, mean, var, attrs_.epsilon, c.pool);
      return;
    }
    // Training mode: the batch's own statistics (population variance), then the
    // running statistics blended with momentum.
    float* bmean = stats_.data();
    float* bvar = stats_.data() + C_;
    const double count = static_cast<double>(N_ * inner_);
    for (int64_t ch = 0; ch < C_; ++ch) {
      double s = 0.0, s2 = 0.0;
      for (int64_t n = 0; n < N_; ++n) {
        const float* p = x + (n * C_ + ch) * inner_;
        for (int64_t i = 0; i < inner_; ++i) s += p[i];
      }
      const double m = count > 0 ? s / count : 0.0;
      for (int64_t n = 0; n < N_; ++n) {
        const float* p = x + (n * C_ + ch) * inner_;
        for (int64_t i = 0; i < inner_; ++i) s2 += (p[i] - m) * (p[i] - m);
      }
      bmean[ch] = static_cast<float>(m);
      bvar[ch] = static_cast<float>(count > 0 ? s2 / count : 0.0);
    }
    kernels::batch_norm(x, c.fo(out_[0]), N_, C_, inner_, scale, bias, bmean, bvar, attrs_.epsilon, c.pool);
    const float mo = attrs_.momentum;
    if (float* rm = c.fo(out_[1]))
      for (int64_t ch = 0; ch < C_; ++ch) rm[ch] = mean[ch] * mo + bmean[ch] * (1.0f - mo);
    if (float* rv = c.fo(out_[2]))
      for (int64_t ch = 0; ch < C_; ++ch) rv[ch] = var[ch] * mo + bvar[ch] * (1.0f - mo);
  }

 private:
  BatchNormAttrs attrs_;
  ValueId in_[5] = {-1, -1, -1, -1, -1}, out_[3] = {-1, -1, -1};
  int64_t N_ = 1, C_ = 1, inner_ = 1;
  std::vector<float> stats_;
};

// ---------------------------------------------------------------- elementwise

class ActOp final : public OpKernel {
 public:
  explicit ActOp(const Build& b) : x_(b.in(0)), y_(b.out(0)), dtype_(b.val(b.in(0)).dtype) {
    act_ = std::get<ActAttrs>(b.n.attrs).act;
    n_ = shape_numel(b.shape(x_));
    const bool int_ok = act_.kind == ActKind::kRelu || act_.kind == ActKind::kClip;
    if (dtype_ != DType::kFloat32 && (!int_ok || dtype_ == DType::kBool))
      b.error(fmt::format("{} input is not supported", dtype_name(dtype_)));
  }
  void run(const RunCtx& c) override { kernels::activation(act_, dtype_, c.in(x_), c.out(y_), n_, c.pool); }

 private:
  ValueId x_, y_;
  DType dtype_;
  Activation act_;
  int64_t n_ = 0;
};

class BinaryOpKernel final : public OpKernel {
 public:
  explicit BinaryOpKernel(const Build& b) : act_(b.n.act), y_(b.out(0)) {
    op_ = b.n.op == OpKind::kMul ? kernels::BinaryOp::kMul : kernels::BinaryOp::kAdd;
    ins_ = b.n.inputs;
    if (ins_.empty()) b.error("no inputs");
    dtype_ = b.val(y_).dtype;
    for (ValueId v : ins_) {
      if (b.val(v).dtype != dtype_) b.error("inputs of different element types");
      shapes_.push_back(b.shape(v));
    }
    out_shape_ = b.shape(y_);
    if (dtype_ == DType::kBool) b.error("bool tensors are not supported");
    if (act_.kind != ActKind::kNone && dtype_ != DType::kFloat32) b.error("a fused activation needs float32");
    bytes_ = shape_numel(out_shape_) * static_cast<int64_t>(dtype_size(dtype_));
  }
  void run(const RunCtx& c) override {
    void* y = c.out(y_);
    if (ins_.size() == 1) {  // Sum of one input
      std::memcpy(y, c.in(ins_[0]), static_cast<std::size_t>(bytes_));
      if (act_.kind != ActKind::kNone) kernels::activation(act_, dtype_, y, y, shape_numel(out_shape_), c.pool);
      return;
    }
    // The activation goes with the last pairwise step.
    const bool two = ins_.size() == 2;
    kernels::binary(op_, dtype_, c.in(ins_[0]), shapes_[0], c.in(ins_[1]), shapes_[1], y, out_shape_, c.pool,
                    two ? &act_ : nullptr);
    for (std::size_t i = 2; i < ins_.size(); ++i)
      kernels::binary(op_, dtype_, y, out_shape_, c.in(ins_[i]), shapes_[i], y, out_shape_, c.pool,
                      i + 1 == ins_.size() ? &act_ : nullptr);
  }

 private:
  kernels::BinaryOp op_;
  Activation act_;
  ValueId y_;
  std::vector<ValueId> ins_;
  std::vector<Shape> shapes_;
  Shape out_shape_;
  DType dtype_ = DType::kFloat32;
  int64_t bytes_ = 0;
};

// ---------------------------------------------------------------- data movement

class ConcatOp final : public OpKernel {
 public:
  explicit ConcatOp(const Build& b) : y_(b.out(0)) {
    axis_ = std::get<AxisAttrs>(b.n.attrs).axis;
    ins_ = b.n.inputs;
    for (ValueId v : ins_) shapes_.push_back(b.shape(v));
    ptrs_.resize(ins_.size());
    es_ = dtype_size(b.val(y_).dtype);
  }
  void run(const RunCtx& c) override {
    for (std::size_t i = 0; i < ins_.size(); ++i) ptrs_[i] = c.in(ins_[i]);
    kernels::concat(ptrs_, shapes_, axis_, es_, c.out(y_));
  }

 private:
  ValueId y_;
  int64_t axis_ = 0;
  std::vector<ValueId> ins_;
  std::vector<Shape> shapes_;
  std::vector<const void*> ptrs_;
  std::size_t es_ = 4;
};

class TransposeOp final : public OpKernel {
 public:
  explicit TransposeOp(const Build& b) : x_(b.in(0)), y_(b.out(0)) {
    perm_ = std::get<AxesAttrs>(b.n.attrs).axes;
    shape_ = b.shape(x_);
    es_ = dtype_size(b.val(x_).dtype);
  }
  void run(const RunCtx& c) override { kernels::transpose(c.in(x_), c.out(y_), es_, shape_, perm_, c.pool); }

 private:
  ValueId x_, y_;
  std::vector<int64_t> perm_;
  Shape shape_;
  std::size_t es_ = 4;
};

class PadOp final : public OpKernel {
 public:
  explicit PadOp(const Build& b) : x_(b.in(0)), y_(b.out(0)) {
    attrs_ = std::get<PadAttrs>(b.n.attrs);
    xs_ = b.shape(x_);
    ys_ = b.shape(y_);
    dtype_ = b.val(x_).dtype;
    if (dtype_ == DType::kBool) b.error("bool tensors are not supported");
  }
  void run(const RunCtx& c) override {
    kernels::pad(dtype_, c.in(x_), xs_, c.out(y_), ys_, attrs_.pads, attrs_.mode, attrs_.value);
  }

 private:
  ValueId x_, y_;
  PadAttrs attrs_;
  Shape xs_, ys_;
  DType dtype_;
};

// ---------------------------------------------------------------- pools, normalisations

class MaxPoolOp final : public OpKernel {
 public:
  explicit MaxPoolOp(const Build& b) : x_(b.in(0)), y_(b.out(0)), idx_(b.out(1)) {
    const auto& a = std::get<PoolAttrs>(b.n.attrs);
    g_ = kernels::make_spatial3(b.shape(x_), b.shape(y_), a.kernel, a.strides, a.dilations, a.pads);
    order_ = a.storage_order;
    dtype_ = b.val(x_).dtype;
    if (dtype_ != DType::kFloat32 && dtype_ != DType::kFloat64 && dtype_ != DType::kInt8 &&
        dtype_ != DType::kUInt8)
      b.error(fmt::format("{} input is not supported", dtype_name(dtype_)));
  }
  void run(const RunCtx& c) override {
    auto* idx = static_cast<int64_t*>(c.out(idx_));
    switch (dtype_) {
      case DType::kFloat64:
        kernels::max_pool(g_, static_cast<const double*>(c.in(x_)), static_cast<double*>(c.out(y_)), idx, order_,
                          c.pool);
        break;
      case DType::kInt8:
        kernels::max_pool(g_, static_cast<const int8_t*>(c.in(x_)), static_cast<int8_t*>(c.out(y_)), idx, order_,
                          c.pool);
        break;
      case DType::kUInt8:
        kernels::max_pool(g_, static_cast<const uint8_t*>(c.in(x_)), static_cast<uint8_t*>(c.out(y_)), idx,
                          order_, c.pool);
        break;
      default: kernels::max_pool(g_, c.f(x_), c.fo(y_), idx, order_, c.pool); break;
    }
  }

 private:
  ValueId x_, y_, idx_;
  kernels::Spatial3 g_;
  int64_t order_ = 0;
  DType dtype_;
};

class AvgPoolOp final : public OpKernel {
 public:
  explicit AvgPoolOp(const Build& b) : x_(b.in(0)), y_(b.out(0)) {
    b.require_float(x_);
    const auto& a = std::get<PoolAttrs>(b.n.attrs);
    g_ = kernels::make_spatial3(b.shape(x_), b.shape(y_), a.kernel, a.strides, a.dilations, a.pads);
    include_pad_ = a.count_include_pad;
  }
  void run(const RunCtx& c) override { kernels::avg_pool(g_, include_pad_, c.f(x_), c.fo(y_), c.pool); }

 private:
  ValueId x_, y_;
  kernels::Spatial3 g_;
  bool include_pad_ = false;
};

class GlobalAvgPoolOp final : public OpKernel {
 public:
  explicit GlobalAvgPoolOp(const Build& b) : x_(b.in(0)), y_(b.out(0)) {
    b.require_float(x_);
    const Shape& s = b.shape(x_);
    if (s.size() < 2) b.error("input must have a channel axis");
    planes_ = s[0] * s[1];
    plane_ = 1;
    for (std::size_t i = 2; i < s.size(); ++i) plane_ *= s[i];
  }
  void run(const RunCtx& c) override { kernels::global_avg_pool(planes_, plane_, c.f(x_), c.fo(y_), c.pool); }

 private:
  ValueId x_, y_;
  int64_t planes_ = 0, plane_ = 0;
};

class SoftmaxOp final : public OpKernel {
 public:
  explicit SoftmaxOp(const Build& b) : x_(b.in(0)), y_(b.out(0)) {
    b.require_float(x_);
    const auto& a = std::get<AxisAttrs>(b.n.attrs);
    axis_ = a.axis;
    legacy_ = a.legacy_softmax;
    shape_ = b.shape(x_);
  }
  void run(const RunCtx& c) override { kernels::softmax(c.f(x_), c.fo(y_), shape_, axis_, legacy_, c.pool); }

 private:
  ValueId x_, y_;
  int64_t axis_ = 0;
  bool legacy_ = false;
  Shape shape_;
};

class LRNOp final : public OpKernel {
 public:
  explicit LRNOp(const Build& b) : x_(b.in(0)), y_(b.out(0)) {
    b.require_float(x_);
    attrs_ = std::get<LRNAttrs>(b.n.attrs);
    const Shape& s = b.shape(x_);
    if (s.size() < 2) b.error("input must have a channel axis");
    N_ = s[0];
    C_ = s[1];
    inner_ = 1;
    for (std::size_t i = 2; i < s.size(); ++i) inner_ *= s[i];
  }
  void run(const RunCtx& c) override { kernels::lrn(c.f(x_), c.fo(y_), N_, C_, inner_, attrs_, c.pool); }

 private:
  ValueId x_, y_;
  LRNAttrs attrs_;
  int64_t N_ = 1, C_ = 1, inner_ = 1;
};

// ---------------------------------------------------------------- QuantizeLinear / DequantizeLinear

// ONNX QuantizeLinear / DequantizeLinear with the arithmetic of arith/int_arith.h
// (x / scale in float32, rounded half to even, saturated). Scale and zero point are
// read at run time (ONNX's node tests feed them as graph inputs).
class QuantLinearOp final : public OpKernel {
 public:
  explicit QuantLinearOp(const Build& b)
      : quantize_(b.n.op == OpKind::kQuantizeLinear), x_(b.in(0)), scale_(b.in(1)), zp_(b.in(2)), y_(b.out(0)) {
    int_type_ = quantize_ ? b.val(y_).dtype : b.val(x_).dtype;
    n_ = shape_numel(b.shape(x_));
    const int64_t channels = shape_numel(b.shape(scale_));
    if (channels > 1) {
      const auto axis = static_cast<std::size_t>(std::get<QuantLinearAttrs>(b.n.attrs).axis);
      extent_ = channels;
      for (std::size_t d = axis + 1; d < b.shape(x_).size(); ++d) inner_ *= b.shape(x_)[d];
    }
    const DType t = int_type_;
    if (t != DType::kInt8 && t != DType::kUInt8 && t != DType::kInt16 && t != DType::kUInt16 &&
        !(t == DType::kInt32 && !quantize_))
      b.error(fmt::format("{} is not supported", dtype_name(t)));
  }
  void run(const RunCtx& c) override {
    switch (int_type_) {
      case DType::kInt8: return go<int8_t>(c);
      case DType::kUInt8: return go<uint8_t>(c);
      case DType::kInt16: return go<int16_t>(c);
      case DType::kUInt16: return go<uint16_t>(c);
      default: return go<int32_t>(c);
    }
  }

 private:
  template <typename T>
  void go(const RunCtx& c) const {
    const float* scale = c.f(scale_);
    const T* zp = zp_ >= 0 ? static_cast<const T*>(c.in(zp_)) : nullptr;
    const intarith::QRange r{static_cast<int32_t>(std::numeric_limits<T>::min()),
                             static_cast<int32_t>(std::numeric_limits<T>::max())};
    for (int64_t i = 0; i < n_; ++i) {
      const auto ch = static_cast<std::size_t>((i / inner_) % extent_);
      const float s = scale[ch];
      const int32_t z = zp ? static_cast<int32_t>(zp[ch]) : 0;
      if (quantize_) {
        static_cast<T*>(c.out(y_))[i] = static_cast<T>(intarith::quantize(c.f(x_)[i], s, z, r));
      } else {
        const int64_t q = static_cast<const T*>(c.in(x_))[i];
        c.fo(y_)[i] = static_cast<float>(q - z) * s;
      }
    }
  }

  bool quantize_;
  ValueId x_, scale_, zp_, y_;
  DType int_type_ = DType::kUInt8;
  int64_t n_ = 0, inner_ = 1, extent_ = 1;
};

std::unique_ptr<OpKernel> make_kernel(const Build& b) {
  switch (b.n.op) {
    case OpKind::kConv: return std::make_unique<ConvOp>(b);
    case OpKind::kGemm: return std::make_unique<GemmOp>(b);
    case OpKind::kMatMul: return std::make_unique<MatMulOp>(b);
    case OpKind::kBatchNorm: return std::make_unique<BatchNormOp>(b);
    case OpKind::kRelu:
    case OpKind::kClip:
    case OpKind::kLeakyRelu:
    case OpKind::kSigmoid:
    case OpKind::kHardSigmoid:
    case OpKind::kHardSwish: return std::make_unique<ActOp>(b);
    case OpKind::kAdd:
    case OpKind::kMul:
    case OpKind::kSum: return std::make_unique<BinaryOpKernel>(b);
    case OpKind::kConcat: return std::make_unique<ConcatOp>(b);
    case OpKind::kMaxPool: return std::make_unique<MaxPoolOp>(b);
    case OpKind::kAveragePool: return std::make_unique<AvgPoolOp>(b);
    case OpKind::kGlobalAveragePool: return std::make_unique<GlobalAvgPoolOp>(b);
    case OpKind::kTranspose: return std::make_unique<TransposeOp>(b);
    case OpKind::kSoftmax: return std::make_unique<SoftmaxOp>(b);
    case OpKind::kLRN: return std::make_unique<LRNOp>(b);
    case OpKind::kPad: return std::make_unique<PadOp>(b);
    case OpKind::kFlatten:
    case OpKind::kReshape:
    case OpKind::kSqueeze:
    case OpKind::kUnsqueeze:
    case OpKind::kIdentity: return nullptr;  // views
    case OpKind::kQuantizeLinear:
    case OpKind::kDequantizeLinear: return std::make_unique<QuantLinearOp>(b);
  }
  b.error("operator is not supported by the executor");
}

constexpr int64_t kAlign = 64;
int64_t align_up(int64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

}  // namespace

// ---------------------------------------------------------------- Executor

Executor::Executor(const LayerGraph& g, const ExecOptions& opts) : g_(g) {
  if (opts.pool) {
    pool_ = opts.pool;
  } else {
    own_pool_ = std::make_unique<ThreadPool>(opts.threads);
    pool_ = own_pool_.get();
  }
  find_add_fusions();
  plan_storage();
  int64_t ws = 0;
  step_of_node_.assign(g_.nodes().size(), -1);
  steps_.reserve(g_.topo_order().size());
  for (NodeId id : g_.topo_order()) {
    const Node& n = g_.node(id);
    Step s;
    s.node = id;
    const Build b{g_, n, pool_->size()};
    s.kernel = make_kernel(b);
    if (s.kernel) ws = std::max(ws, s.kernel->workspace_floats());
    step_of_node_[static_cast<std::size_t>(id)] = static_cast<int32_t>(steps_.size());
    steps_.push_back(std::move(s));
  }
  for (const AddFusion& f : fusions_) {
    const int32_t c = step_of_node_[static_cast<std::size_t>(f.conv)], a = step_of_node_[static_cast<std::size_t>(f.add)];
    steps_[static_cast<std::size_t>(c)].fused_add = a;
    steps_[static_cast<std::size_t>(a)].fused_into = c;
  }
  ws_.reserve(pool_->size(), ws);
  ptr_.assign(g_.values().size(), nullptr);
  profile_ = opts.profile;
  if (profile_) node_seconds_.assign(g_.nodes().size(), 0.0);
}

Executor::~Executor() = default;

void Executor::find_add_fusions() {
  const auto topo = g_.topo_order();
  std::vector<int64_t> step(g_.nodes().size(), -1);
  for (std::size_t i = 0; i < topo.size(); ++i) step[static_cast<std::size_t>(topo[i])] = static_cast<int64_t>(i);
  auto is_output = [&](ValueId v) {
    const auto outs = g_.outputs();
    return std::find(outs.begin(), outs.end(), v) != outs.end();
  };
  for (NodeId id : topo) {
    const Node& add = g_.node(id);
    if (add.op != OpKind::kAdd || add.inputs.size() != 2 || add.outputs.size() != 1) continue;
    const Value& out = g_.value(add.outputs[0]);
    if (out.dtype != DType::kFloat32) continue;
    if (add.inputs[0] == add.inputs[1]) continue;
    bool same_shapes = true;
    for (ValueId v : add.inputs) same_shapes = same_shapes && v >= 0 && g_.value(v).shape == out.shape;
    if (!same_shapes) continue;
    // The operand whose producer runs last (the other must exist by then) from a
    // Conv with no activation of its own, read by nothing else.
    AddFusion best;
    int64_t best_step = -1;
    for (int k = 0; k < 2; ++k) {
      const ValueId v = add.inputs[static_cast<std::size_t>(k)], r = add.inputs[static_cast<std::size_t>(1 - k)];
      const NodeId c = g_.producer(v);
      if (c < 0) continue;
      const Node& conv = g_.node(c);
      if (conv.op != OpKind::kConv || conv.act.kind != ActKind::kNone || conv.outputs.size() != 1) continue;
      if (g_.consumers(v).size() != 1 || is_output(v) || g_.value(v).dtype != DType::kFloat32) continue;
      const auto& a = std::get<ConvAttrs>(conv.attrs);
      const Shape& xs = g_.value(conv.inputs[0]).shape;
      if (a.group > 1 && xs.size() > 1 && xs[1] == a.group && g_.value(v).shape[1] == a.group) continue;  // depthwise
      const NodeId rp = g_.producer(r);
      if (rp >= 0 && step[static_cast<std::size_t>(rp)] >= step[static_cast<std::size_t>(c)]) continue;
      if (step[static_cast<std::size_t>(c)] > best_step) {
        best = AddFusion{c, id};
        best_step = step[static_cast<std::size_t>(c)];
      }
    }
    if (best.conv >= 0) fusions_.push_back(best);
  }
}

void Executor::plan_storage() {
  const auto nv = g_.values().size();
  slots_.assign(nv, {});
  for (std::size_t v = 0; v < nv; ++v) {
    const Value& val = g_.values()[v];
    if (!val.is_constant) continue;
    if (!val.data) fail("tensor '{}' has no data (the model was imported without weights)", val.name);
    slots_[v].storage = Storage::kConstant;
    slots_[v].constant = val.data->bytes().data();
  }
  for (std::size_t i = 0; i < g_.inputs().size(); ++i) {
    auto& s = slots_[static_cast<std::size_t>(g_.inputs()[i])];
    s.storage = Storage::kInput;
    s.offset = static_cast<int64_t>(i);
  }
  const auto topo = g_.topo_order();
  for (NodeId id : topo) {
    const Node& n = g_.node(id);
    for (std::size_t o = 0; o < n.outputs.size(); ++o) {
      const ValueId v = n.outputs[o];
      if (v < 0) continue;
      auto& s = slots_[static_cast<std::size_t>(v)];
      if (is_view(n.op) && o == 0 && !n.inputs.empty() && n.inputs[0] >= 0) {
        s.storage = Storage::kAlias;
        s.alias = n.inputs[0];
      } else {
        s.storage = Storage::kArena;
      }
    }
  }
  auto root = [&](ValueId v) {
    while (slots_[static_cast<std::size_t>(v)].storage == Storage::kAlias) v = slots_[static_cast<std::size_t>(v)].alias;
    return v;
  };
  // Live interval [first, last] in steps of every arena root (uses through aliases count).
  const int64_t nsteps = static_cast<int64_t>(topo.size());
  std::vector<int64_t> first(nv, -1), last(nv, -1);
  for (int64_t s = 0; s < nsteps; ++s) {
    const Node& n = g_.node(topo[static_cast<std::size_t>(s)]);
    for (ValueId v : n.outputs)
      if (v >= 0 && slots_[static_cast<std::size_t>(v)].storage == Storage::kArena) {
        first[static_cast<std::size_t>(v)] = s;
        last[static_cast<std::size_t>(v)] = std::max(last[static_cast<std::size_t>(v)], s);
      }
    for (ValueId v : n.inputs)
      if (v >= 0) {
        const auto r = static_cast<std::size_t>(root(v));
        last[r] = std::max(last[r], s);
      }
  }
  for (ValueId v : g_.outputs()) last[static_cast<std::size_t>(root(v))] = nsteps;  // copied out at the end
  // A fused Add's output is written by its Conv: live from the Conv's step on.
  std::vector<int64_t> step_of(g_.nodes().size(), -1);
  for (int64_t s = 0; s < nsteps; ++s) step_of[static_cast<std::size_t>(topo[static_cast<std::size_t>(s)])] = s;
  for (const AddFusion& f : fusions_) {
    const auto v = static_cast<std::size_t>(g_.node(f.add).outputs[0]);
    first[v] = std::min(first[v], step_of[static_cast<std::size_t>(f.conv)]);
  }

  struct Item {
    ValueId v;
    int64_t bytes, first, last, offset;
  };
  std::vector<Item> items;
  for (std::size_t v = 0; v < nv; ++v) {
    if (slots_[v].storage != Storage::kArena) continue;
    const Value& val = g_.values()[v];
    // Checked: a graph may name tensors no memory could hold (each is then refused
    // by the memory limit, at most 2^62, so the sums below stay in range).
    int64_t raw = 0;
    const bool overflow =
        __builtin_mul_overflow(shape_numel(val.shape), static_cast<int64_t>(dtype_size(val.dtype)), &raw);
    if (overflow || raw > memory_limit())
      check_memory(overflow ? std::numeric_limits<int64_t>::max() : raw,
                   fmt::format("model '{}': tensor '{}' ({} {})", g_.name, val.name, dtype_name(val.dtype),
                               shape_str(val.shape)));
    const int64_t bytes = align_up(raw);
    items.push_back({static_cast<ValueId>(v), bytes, first[v], last[v], 0});
    if (__builtin_add_overflow(unshared_bytes_, bytes, &unshared_bytes_))
      check_memory(std::numeric_limits<int64_t>::max(), fmt::format("model '{}': its activations", g_.name));
  }
  // Greedy by size: each value goes to the lowest offset free during its lifetime.
  std::vector<std::size_t> order(items.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return items[a].bytes > items[b].bytes;
  });
  std::vector<std::size_t> placed;
  std::vector<std::pair<int64_t, int64_t>> busy;  // [offset, end) of overlapping placed items
  for (std::size_t i : order) {
    Item& it = items[i];
    busy.clear();
    for (std::size_t p : placed) {
      const Item& o = items[p];
      if (o.first <= it.last && it.first <= o.last) busy.emplace_back(o.offset, o.offset + o.bytes);
    }
    std::sort(busy.begin(), busy.end());
    int64_t off = 0;
    for (const auto& [b, e] : busy) {
      if (off + it.bytes <= b) break;
      off = std::max(off, e);
    }
    it.offset = off;
    arena_bytes_ = std::max(arena_bytes_, off + it.bytes);
    placed.push_back(i);
  }
  for (const Item& it : items) slots_[static_cast<std::size_t>(it.v)].offset = it.offset;
  check_planned_memory();
  arena_.assign(static_cast<std::size_t>(arena_bytes_ / 4 + 16), 0.0f);
}

// The memory limit (graph/limits.h), checked before the arena is allocated: the
// arena plus the weights the graph holds (kernels read weights in place).
void Executor::check_planned_memory() const {
  int64_t weights = 0;
  for (const Value& v : g_.values())
    if (v.is_constant && v.data) weights += static_cast<int64_t>(v.data->nbytes());
  const auto sat = [](int64_t a, int64_t b) {
    int64_t r = 0;
    return __builtin_add_overflow(a, b, &r) ? std::numeric_limits<int64_t>::max() : r;
  };
  check_memory(sat(arena_bytes_, weights), fmt::format("model '{}': running it (activation arena {}, weights {})",
                                                       g_.name, format_bytes(arena_bytes_), format_bytes(weights)));
}

void Executor::resolve_pointers(std::span<const Tensor> inputs) {
  auto* base = reinterpret_cast<std::byte*>(arena_.data());
  for (std::size_t v = 0; v < slots_.size(); ++v) {
    const ValueSlot& s = slots_[v];
    switch (s.storage) {
      case Storage::kArena: ptr_[v] = base + s.offset; break;
      case Storage::kConstant: ptr_[v] = const_cast<void*>(s.constant); break;
      case Storage::kInput:
        ptr_[v] = const_cast<std::byte*>(inputs[static_cast<std::size_t>(s.offset)].bytes().data());
        break;
      default: ptr_[v] = nullptr; break;
    }
  }
  // Aliases after their targets: a view's input precedes it in topological order.
  for (NodeId id : g_.topo_order()) {
    const Node& n = g_.node(id);
    for (ValueId v : n.outputs)
      if (v >= 0 && slots_[static_cast<std::size_t>(v)].storage == Storage::kAlias)
        ptr_[static_cast<std::size_t>(v)] = ptr_[static_cast<std::size_t>(slots_[static_cast<std::size_t>(v)].alias)];
  }
}

void Executor::fill_refs(std::span<const ValueId> ids, std::vector<TensorRef>& r) const {
  r.resize(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const ValueId v = ids[i];
    if (v < 0) {
      r[i] = {};
      continue;
    }
    const Value& val = g_.value(v);
    r[i] = {val.dtype, &val.shape, ptr_[static_cast<std::size_t>(v)]};
  }
}

void Executor::add_hook(NodeId node, OutputHook hook) {
  steps_.at(static_cast<std::size_t>(step_of_node_.at(static_cast<std::size_t>(node)))).hooks.push_back(std::move(hook));
}

void Executor::set_override(NodeId node, NodeOverride fn) {
  Step& s = steps_.at(static_cast<std::size_t>(step_of_node_.at(static_cast<std::size_t>(node))));
  if (!s.kernel) throw std::logic_error("set_override on a view node '" + g_.node(node).name + "'");
  s.override_fn = std::move(fn);
}

void Executor::clear_hooks() {
  for (Step& s : steps_) {
    s.hooks.clear();
    s.override_fn = nullptr;
  }
}

void check_run_inputs(const LayerGraph& g, std::span<const Tensor> inputs) {
  const auto gin = g.inputs();
  if (inputs.size() != gin.size()) fail("model '{}' takes {} input(s), got {}", g.name, gin.size(), inputs.size());
  for (std::size_t i = 0; i < gin.size(); ++i) {
    const Value& v = g.value(gin[i]);
    if (inputs[i].dtype() != v.dtype || inputs[i].shape() != v.shape)
      fail("{}: input '{}' must be {} {}, got {} {}", g.source.empty() ? fmt::format("model '{}'", g.name) : g.source,
           v.name, dtype_name(v.dtype), shape_str(v.shape), dtype_name(inputs[i].dtype()),
           shape_str(inputs[i].shape()));
  }
}

void Executor::run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs) {
  check_run_inputs(g_, inputs);
  resolve_pointers(inputs);
  const RunCtx ctx{ptr_, *pool_, ws_};
  // Fusions apply while neither node has a hook or an override.
  auto untouched = [](const Step& s) { return s.hooks.empty() && !s.override_fn; };
  for (Step& s : steps_)
    if (s.fused_into >= 0) s.skip = untouched(s) && untouched(steps_[static_cast<std::size_t>(s.fused_into)]);
  for (Step& s : steps_) {
    const Node& n = g_.node(s.node);
    if (s.skip) continue;  // computed by its Conv
    const auto t0 = profile_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    if (s.override_fn) {
      fill_refs(n.inputs, s.in_refs);
      fill_refs(n.outputs, s.out_refs);
      s.override_fn(s.node, s.in_refs, s.out_refs);
    } else if (s.fused_add >= 0 && steps_[static_cast<std::size_t>(s.fused_add)].skip) {
      const Step& add = steps_[static_cast<std::size_t>(s.fused_add)];
      const Node& an = g_.node(add.node);
      const ValueId r = an.inputs[0] == n.outputs[0] ? an.inputs[1] : an.inputs[0];
      s.kernel->run_fused(ctx, ctx.f(r), ctx.fo(an.outputs[0]), an.act);
    } else if (s.kernel) {
      s.kernel->run(ctx);
    }
    if (!s.hooks.empty()) {
      fill_refs(n.outputs, s.out_refs);
      for (auto& h : s.hooks) h(s.node, s.out_refs);
    }
    if (profile_)  // hooks included: they are part of the node's cost (fake quantization)
      node_seconds_[static_cast<std::size_t>(s.node)] +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  const auto gout = g_.outputs();
  outputs.resize(gout.size());
  for (std::size_t i = 0; i < gout.size(); ++i) {
    const Value& v = g_.value(gout[i]);
    if (outputs[i].dtype() != v.dtype || outputs[i].shape() != v.shape || outputs[i].empty())
      outputs[i] = Tensor(v.dtype, v.shape);
    if (outputs[i].nbytes() > 0)
      std::memcpy(outputs[i].bytes().data(), ptr_[static_cast<std::size_t>(gout[i])], outputs[i].nbytes());
  }
}

std::vector<Tensor> Executor::run(std::span<const Tensor> inputs) {
  std::vector<Tensor> out;
  run(inputs, out);
  return out;
}

}  // namespace qsim
