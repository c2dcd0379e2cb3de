// Writes the structure-aware seed corpora of the binary fuzz targets:
//   <out>/onnx/  small valid models exercising every supported operator (and
//                opsets where semantics change), plus hostile ones: zero,
//                negative and 2^62 dimensions, overflowing products, cycles,
//                missing initializers, mismatched ranks, external data,
//                unsupported operators, truncated files;
//   <out>/npy/   every dtype, C and Fortran order, versions 1-3, edge shapes;
//   <out>/idx/   every element type, plain and gzip, edge shapes.
// Usage: fuzz_make_corpus tests/fuzz/corpus   (build-fuzz, see docs/robustness.md)
// Text corpora (YAML, cfg, topology, alloc.json) are committed by hand.

#include <cstdio>
#include <cstring>
#include <span>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "graph/error.h"
#include "graph/file_util.h"
#include "data/npy.h"
#include "tests/graph/onnx_test_util.h"
#include "tests/test_bytes.h"

namespace fs = std::filesystem;
using qsim::testing::attr_f;
using qsim::testing::attr_i;
using qsim::testing::attr_ints;
using qsim::testing::attr_s;
using qsim::testing::attr_t;
using qsim::testing::gzip;
using qsim::testing::idx;
using qsim::testing::OnnxModel;
using qsim::testing::raw_input;
using onnx::TensorProto;

namespace {

constexpr int64_t k2p62 = int64_t{1} << 62;

fs::path g_out;
int g_count = 0;

void put(const std::string& dir, const std::string& name, const std::string& bytes) {
  fs::create_directories(g_out / dir);
  qsim::write_file_atomic((g_out / dir / name).string(), bytes);
  ++g_count;
}

std::vector<float> ramp(std::size_t n, float scale = 0.1f) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = scale * static_cast<float>(static_cast<int>(i % 7) - 3);
  return v;
}

void onnx_seed(const std::string& name, OnnxModel& m) { put("onnx", name + ".onnx", m.bytes()); }


// ---------------------------------------------------------------- valid models

void valid_models() {
  {  // Conv 2-D + bias + Relu, explicit pads
    OnnxModel m;
    m.input("x", {1, 3, 8, 8}).output("y");
    m.init_f("w", {4, 3, 3, 3}, ramp(108));
    m.init_f("b", {4}, {0.1f, 0.2f, 0.3f, 0.4f});
    auto* c = m.node("Conv", {"x", "w", "b"}, {"c"}, "conv");
    attr_ints(c, "kernel_shape", {3, 3});
    attr_ints(c, "pads", {1, 1, 1, 1});
    m.node("Relu", {"c"}, {"y"}, "relu");
    onnx_seed("conv2d_relu", m);
  }
  {  // Conv 1-D with dilation and stride
    OnnxModel m;
    m.input("x", {1, 2, 10}).output("y");
    m.init_f("w", {3, 2, 3}, ramp(18));
    auto* c = m.node("Conv", {"x", "w"}, {"y"}, "conv1d");
    attr_ints(c, "dilations", {2});
    attr_ints(c, "strides", {2});
    onnx_seed("conv1d_dilated", m);
  }
  {  // Conv 3-D
    OnnxModel m;
    m.input("x", {1, 1, 4, 4, 4}).output("y");
    m.init_f("w", {2, 1, 2, 2, 2}, ramp(16));
    m.node("Conv", {"x", "w"}, {"y"}, "conv3d");
    onnx_seed("conv3d", m);
  }
  {  // depthwise Conv, auto_pad SAME_UPPER, stride 2, symbolic batch
    OnnxModel m;
    m.input("x", {-1, 4, 7, 7}).output("y");
    m.init_f("w", {4, 1, 3, 3}, ramp(36));
    auto* c = m.node("Conv", {"x", "w"}, {"y"}, "dw");
    attr_i(c, "group", 4);
    attr_s(c, "auto_pad", "SAME_UPPER");
    attr_ints(c, "strides", {2, 2});
    onnx_seed("conv_depthwise_same_upper", m);
  }
  {  // grouped Conv, SAME_LOWER
    OnnxModel m;
    m.input("x", {1, 4, 5, 5}).output("y");
    m.init_f("w", {6, 2, 2, 2}, ramp(48));
    auto* c = m.node("Conv", {"x", "w"}, {"y"}, "grouped");
    attr_i(c, "group", 2);
    attr_s(c, "auto_pad", "SAME_LOWER");
    onnx_seed("conv_grouped_same_lower", m);
  }
  {  // Conv + BatchNormalization + Clip(6): BN folding and activation fusion
    OnnxModel m(11);
    m.input("x", {1, 2, 4, 4}).output("y");
    m.init_f("w", {3, 2, 1, 1}, ramp(6));
    m.init_f("s", {3}, {1.0f, 0.5f, 2.0f});
    m.init_f("bb", {3}, {0.0f, 0.1f, -0.1f});
    m.init_f("mu", {3}, {0.1f, 0.2f, 0.3f});
    m.init_f("var", {3}, {1.0f, 2.0f, 0.5f});
    m.init_f("lo", {}, {0.0f});
    m.init_f("hi", {}, {6.0f});
    m.node("Conv", {"x", "w"}, {"c"}, "conv");
    auto* bn = m.node("BatchNormalization", {"c", "s", "bb", "mu", "var"}, {"n"}, "bn");
    attr_f(bn, "epsilon", 1e-5f);
    m.node("Clip", {"n", "lo", "hi"}, {"y"}, "relu6");
    onnx_seed("conv_bn_clip", m);
  }
  {  // standalone BatchNormalization (not foldable) on a graph input
    OnnxModel m;
    m.input("x", {2, 3, 2}).output("y");
    for (const char* n : {"s", "b", "m", "v"}) m.init_f(n, {3}, {1.0f, 1.0f, 1.0f});
    m.node("BatchNormalization", {"x", "s", "b", "m", "v"}, {"y"}, "bn");
    onnx_seed("batchnorm_standalone", m);
  }
  {  // Gemm with transB, alpha, beta, bias; then Sigmoid
    OnnxModel m;
    m.input("a", {2, 8}).output("y");
    m.init_f("b", {4, 8}, ramp(32));
    m.init_f("c", {4}, {1, 2, 3, 4});
    auto* g = m.node("Gemm", {"a", "b", "c"}, {"g"}, "fc");
    attr_i(g, "transB", 1);
    attr_f(g, "alpha", 0.5f);
    attr_f(g, "beta", 2.0f);
    m.node("Sigmoid", {"g"}, {"y"}, "sig");
    onnx_seed("gemm_transb_sigmoid", m);
  }
  {  // Gemm transA, opset 6 (bias broadcast attribute era)
    OnnxModel m(6, 3);
    m.input("a", {8, 2}).output("y");
    m.init_f("b", {8, 3}, ramp(24));
    auto* g = m.node("Gemm", {"a", "b"}, {"y"}, "fc");
    attr_i(g, "transA", 1);
    onnx_seed("gemm_transa_opset6", m);
  }
  {  // MatMul with constant 2-D weights (rows folded into M) + LeakyRelu
    OnnxModel m;
    m.input("a", {2, 3, 4}).output("y");
    m.init_f("b", {4, 5}, ramp(20));
    m.node("MatMul", {"a", "b"}, {"mm"}, "mm");
    auto* l = m.node("LeakyRelu", {"mm"}, {"y"}, "lrelu");
    attr_f(l, "alpha", 0.2f);
    onnx_seed("matmul_const_leakyrelu", m);
  }
  {  // batched MatMul of two inputs with broadcasting; vector operand
    OnnxModel m;
    m.input("a", {2, 1, 3, 4}).input("b", {3, 4, 5}).input("v", {5}).output("y").output("z");
    m.node("MatMul", {"a", "b"}, {"y"}, "bmm");
    m.node("MatMul", {"y", "v"}, {"z"}, "mv");
    onnx_seed("matmul_batched_broadcast", m);
  }
  {  // HardSigmoid, HardSwish (opset 14)
    OnnxModel m(14);
    m.input("x", {1, 4}).output("y");
    auto* h = m.node("HardSigmoid", {"x"}, {"h"}, "hs");
    attr_f(h, "alpha", 0.25f);
    attr_f(h, "beta", 0.5f);
    m.node("HardSwish", {"h"}, {"y"}, "hswish");
    onnx_seed("hardsigmoid_hardswish", m);
  }
  {  // Clip opset 6 (attributes), Relu
    OnnxModel m(6, 3);
    m.input("x", {1, 4}).output("y");
    auto* c = m.node("Clip", {"x"}, {"c"}, "clip");
    attr_f(c, "min", -1.0f);
    attr_f(c, "max", 1.0f);
    m.node("Relu", {"c"}, {"y"}, "relu");
    onnx_seed("clip_opset6", m);
  }
  {  // Add/Mul broadcasting, Sum of three, Add+Relu fusion
    OnnxModel m;
    m.input("x", {1, 4, 3, 3}).input("z", {3}).output("y");
    m.init_f("c", {4, 1, 1}, {1, 2, 3, 4});
    m.node("Add", {"x", "c"}, {"a"}, "add");
    m.node("Mul", {"a", "z"}, {"p"}, "mul");
    m.node("Sum", {"a", "p", "x"}, {"s"}, "sum");
    m.node("Relu", {"s"}, {"y"}, "relu");
    onnx_seed("add_mul_sum_broadcast", m);
  }
  {  // Concat on a negative axis
    OnnxModel m;
    m.input("a", {1, 2, 3}).input("b", {1, 4, 3}).output("y");
    auto* c = m.node("Concat", {"a", "b"}, {"y"}, "cat");
    attr_i(c, "axis", -2);
    onnx_seed("concat_negative_axis", m);
  }
  {  // MaxPool with ceil_mode, dilations, Indices; AveragePool count_include_pad; GlobalAveragePool
    OnnxModel m(12);
    m.input("x", {1, 2, 7, 7}).output("y").output("idx", TensorProto::INT64).output("g");
    auto* p = m.node("MaxPool", {"x"}, {"mp", "idx"}, "maxpool");
    attr_ints(p, "kernel_shape", {3, 3});
    attr_ints(p, "strides", {2, 2});
    attr_i(p, "ceil_mode", 1);
    auto* a = m.node("AveragePool", {"mp"}, {"y"}, "avgpool");
    attr_ints(a, "kernel_shape", {2, 2});
    attr_ints(a, "pads", {1, 1, 0, 0});
    attr_i(a, "count_include_pad", 1);
    m.node("GlobalAveragePool", {"x"}, {"g"}, "gap");
    onnx_seed("pools", m);
  }
  {  // Flatten + Gemm (the classifier head)
    OnnxModel m;
    m.input("x", {1, 2, 2, 2}).output("y");
    m.init_f("w", {8, 3}, ramp(24));
    auto* f = m.node("Flatten", {"x"}, {"f"}, "flat");
    attr_i(f, "axis", 1);
    m.node("Gemm", {"f", "w"}, {"y"}, "fc");
    onnx_seed("flatten_gemm", m);
  }
  {  // Reshape (0 and -1), Transpose, Squeeze/Unsqueeze with axes inputs (opset 13)
    OnnxModel m;
    m.input("x", {1, 6, 4}).output("y");
    m.init_i64("shape", {3}, {0, -1, 2});
    m.init_i64("ax0", {1}, {0});
    m.init_i64("ax1", {1}, {-1});
    m.node("Reshape", {"x", "shape"}, {"r"}, "reshape");
    auto* t = m.node("Transpose", {"r"}, {"t"}, "transpose");
    attr_ints(t, "perm", {2, 0, 1});
    m.node("Unsqueeze", {"t", "ax1"}, {"u"}, "unsq");
    m.node("Squeeze", {"u", "ax1"}, {"y"}, "sq");
    onnx_seed("reshape_transpose_squeeze", m);
  }
  {  // Squeeze/Unsqueeze with axes attributes (opset 11), Squeeze without axes
    OnnxModel m(11);
    m.input("x", {1, 3, 1}).output("y");
    auto* u = m.node("Unsqueeze", {"x"}, {"u"}, "unsq");
    attr_ints(u, "axes", {0, 4});
    m.node("Squeeze", {"u"}, {"y"}, "sq");
    onnx_seed("squeeze_opset11", m);
  }
  {  // Dropout (with mask), Identity, Softmax (opset 13 axis)
    OnnxModel m;
    m.input("x", {2, 5}).output("y").output("mask", TensorProto::BOOL);
    m.node("Dropout", {"x"}, {"d", "mask"}, "drop");
    m.node("Identity", {"d"}, {"i"}, "id");
    auto* s = m.node("Softmax", {"i"}, {"y"}, "softmax");
    attr_i(s, "axis", -1);
    onnx_seed("dropout_identity_softmax", m);
  }
  {  // Softmax before opset 13 (coerced to 2-D), LRN
    OnnxModel m(11);
    m.input("x", {1, 3, 2, 2}).output("y").output("l");
    auto* s = m.node("Softmax", {"x"}, {"y"}, "softmax");
    attr_i(s, "axis", 1);
    auto* l = m.node("LRN", {"x"}, {"l"}, "lrn");
    attr_i(l, "size", 3);
    attr_f(l, "alpha", 1e-4f);
    attr_f(l, "beta", 0.75f);
    onnx_seed("softmax_opset11_lrn", m);
  }
  {  // Pad with pads input (opset 13), reflect; Pad opset 2 with attributes
    OnnxModel m;
    m.input("x", {1, 1, 3, 3}).output("y");
    m.init_i64("pads", {8}, {0, 0, 1, 1, 0, 0, 1, 1});
    auto* p = m.node("Pad", {"x", "pads"}, {"y"}, "pad");
    attr_s(p, "mode", "reflect");
    onnx_seed("pad_reflect", m);
    OnnxModel m2(2, 3);
    m2.input("x", {1, 3}).output("y");
    auto* p2 = m2.node("Pad", {"x"}, {"y"}, "pad");
    attr_ints(p2, "pads", {0, 1, 0, 2});
    attr_f(p2, "value", 1.5f);
    onnx_seed("pad_opset2", m2);
  }
  {  // torch-style shape arithmetic: Shape -> Gather -> Unsqueeze -> Concat -> Reshape; Cast; Constant
    OnnxModel m;
    m.input("x", {2, 3, 4}).output("y");
    auto* k = m.node("Constant", {}, {"idx"}, "k0");
    auto* t = attr_t(k, "value");
    t->set_data_type(TensorProto::INT64);
    t->add_int64_data(0);
    auto* k2 = m.node("Constant", {}, {"minus1"}, "k1");
    auto* t2 = attr_t(k2, "value");
    t2->set_data_type(TensorProto::INT64);
    t2->add_dims(1);
    t2->add_int64_data(-1);
    m.init_i64("ax", {1}, {0});
    m.node("Shape", {"x"}, {"s"}, "shape");
    auto* g = m.node("Gather", {"s", "idx"}, {"n"}, "gather");
    attr_i(g, "axis", 0);
    m.node("Unsqueeze", {"n", "ax"}, {"n1"}, "unsq");
    auto* c = m.node("Concat", {"n1", "minus1"}, {"shape2"}, "cat");
    attr_i(c, "axis", 0);
    auto* cast = m.node("Cast", {"shape2"}, {"shape3"}, "cast");
    attr_i(cast, "to", TensorProto::INT64);
    m.node("Reshape", {"x", "shape3"}, {"y"}, "reshape");
    onnx_seed("shape_arithmetic", m);
  }
  {  // ConstantOfShape weights, Cast to float, Mul
    OnnxModel m;
    m.input("x", {2, 3}).output("y");
    m.init_i64("shp", {2}, {2, 3});
    auto* c = m.node("ConstantOfShape", {"shp"}, {"ones"}, "cos");
    auto* v = attr_t(c, "value");
    v->set_data_type(TensorProto::INT32);
    v->add_dims(1);
    v->add_int32_data(1);
    auto* cast = m.node("Cast", {"ones"}, {"onesf"}, "cast");
    attr_i(cast, "to", TensorProto::FLOAT);
    m.node("Mul", {"x", "onesf"}, {"y"}, "mul");
    onnx_seed("constant_of_shape", m);
  }
  {  // raw_data initializers of several types, int8 flowing through elementwise ops
    OnnxModel m;
    m.input("x", {4}, TensorProto::INT8).output("y", TensorProto::INT8);
    m.init_raw<int8_t>("c", {4}, TensorProto::INT8, {1, -2, 3, -4});
    m.node("Add", {"x", "c"}, {"y"}, "add");
    onnx_seed("int8_add_raw", m);
    OnnxModel m2;
    m2.input("x", {2, 2}).output("y");
    m2.init_raw<double>("d", {2, 2}, TensorProto::DOUBLE, {1, 2, 3, 4});
    auto* cast = m2.node("Cast", {"d"}, {"f"}, "cast");
    attr_i(cast, "to", TensorProto::FLOAT);
    m2.node("Add", {"x", "f"}, {"y"}, "add");
    onnx_seed("double_raw_cast", m2);
  }
  {  // a small CNN: Conv-BN-Relu, MaxPool, residual Add, GAP, Flatten, Gemm, Softmax
    OnnxModel m;
    m.input("x", {1, 1, 8, 8}).output("p");
    m.init_f("w1", {4, 1, 3, 3}, ramp(36));
    m.init_f("w2", {4, 4, 3, 3}, ramp(144, 0.01f));
    for (const char* n : {"s", "b", "mu", "v"}) m.init_f(n, {4}, {1, 1, 1, 1});
    m.init_f("fc", {4, 10}, ramp(40));
    m.init_f("fcb", {10}, ramp(10));
    auto* c1 = m.node("Conv", {"x", "w1"}, {"c1"}, "conv1");
    attr_ints(c1, "pads", {1, 1, 1, 1});
    m.node("BatchNormalization", {"c1", "s", "b", "mu", "v"}, {"b1"}, "bn1");
    m.node("Relu", {"b1"}, {"r1"}, "relu1");
    auto* mp = m.node("MaxPool", {"r1"}, {"m1"}, "pool");
    attr_ints(mp, "kernel_shape", {2, 2});
    attr_ints(mp, "strides", {2, 2});
    auto* c2 = m.node("Conv", {"m1", "w2"}, {"c2"}, "conv2");
    attr_ints(c2, "pads", {1, 1, 1, 1});
    m.node("Add", {"c2", "m1"}, {"a"}, "res");
    m.node("Relu", {"a"}, {"r2"}, "relu2");
    m.node("GlobalAveragePool", {"r2"}, {"g"}, "gap");
    m.node("Flatten", {"g"}, {"f"}, "flat");
    m.node("Gemm", {"f", "fc", "fcb"}, {"l"}, "fc");
    m.node("Softmax", {"l"}, {"p"}, "softmax");
    onnx_seed("small_cnn", m);
  }
}

// ---------------------------------------------------------------- hostile models

// Conv on an input of the given dims (weights [4, 3, 3, 3]).
void conv_on(const std::string& name, const std::vector<int64_t>& dims) {
  OnnxModel m;
  raw_input(m, "x", dims);
  m.output("y");
  m.init_f("w", {4, 3, 3, 3}, ramp(108));
  m.node("Conv", {"x", "w"}, {"y"}, "conv");
  onnx_seed(name, m);
}

void hostile_models() {
  conv_on("hostile_zero_dim", {0, 3, 8, 8});
  conv_on("hostile_zero_spatial", {1, 3, 0, 8});
  conv_on("hostile_negative_dim", {1, 3, -8, 8});
  conv_on("hostile_2p62_batch", {k2p62, 3, 8, 8});
  conv_on("hostile_2p62_spatial", {1, 3, k2p62, k2p62});
  conv_on("hostile_int64_max_dim", {1, 3, INT64_MAX, 8});
  conv_on("hostile_rank_mismatch", {1, 3, 8});
  {  // Gemm with 2^62 rows and columns: MAC count overflows
    OnnxModel m;
    raw_input(m, "a", {k2p62, k2p62});
    raw_input(m, "b", {k2p62, 4});
    m.output("y");
    m.node("Gemm", {"a", "b"}, {"y"}, "fc");
    onnx_seed("hostile_gemm_macs_overflow", m);
  }
  {  // every tensor fits (2^60 elements) but the MAC count is 2^90
    OnnxModel m;
    raw_input(m, "a", {int64_t{1} << 30, int64_t{1} << 30});
    raw_input(m, "b", {int64_t{1} << 30, int64_t{1} << 30});
    m.output("y");
    m.node("Gemm", {"a", "b"}, {"y"}, "fc");
    onnx_seed("hostile_gemm_macs_2p90", m);
  }
  {  // MatMul whose batch product overflows
    OnnxModel m;
    raw_input(m, "a", {int64_t{1} << 31, int64_t{1} << 31, 2, 2});
    raw_input(m, "b", {2, 2});
    m.output("y");
    m.node("MatMul", {"a", "b"}, {"y"}, "mm");
    onnx_seed("hostile_matmul_batch_overflow", m);
  }
  {  // initializer claiming 2^62 elements without data
    OnnxModel m;
    m.input("x", {1, 4}).output("y");
    m.init("w", {k2p62}, TensorProto::FLOAT);
    m.node("Add", {"x", "w"}, {"y"}, "add");
    onnx_seed("hostile_initializer_2p62", m);
  }
  {  // initializer with a negative dim and raw data of the wrong size
    OnnxModel m;
    m.input("x", {1, 4}).output("y");
    m.init_raw<float>("w", {-1, 4}, TensorProto::FLOAT, {1, 2, 3, 4});
    m.init_raw<float>("v", {4, 4}, TensorProto::FLOAT, {1, 2, 3});
    m.node("Add", {"x", "w"}, {"z"}, "add");
    m.node("Add", {"z", "v"}, {"y"}, "add2");
    onnx_seed("hostile_initializer_bad_sizes", m);
  }
  {  // ConstantOfShape asking for 2^40 elements (folded only if needed)
    OnnxModel m;
    m.input("x", {1, 4}).output("y");
    m.init_i64("shp", {2}, {int64_t{1} << 20, int64_t{1} << 20});
    m.node("ConstantOfShape", {"shp"}, {"big"}, "cos");
    m.node("Shape", {"big"}, {"s"}, "shape");
    m.node("Reshape", {"x", "s"}, {"y"}, "reshape");
    onnx_seed("hostile_constant_of_shape_2p40", m);
  }
  {  // Reshape to 2^62 x 4 (element count mismatch), and a -1 with a zero
    OnnxModel m;
    m.input("x", {2, 2}).output("y");
    m.init_i64("shape", {2}, {k2p62, 4});
    m.node("Reshape", {"x", "shape"}, {"y"}, "reshape");
    onnx_seed("hostile_reshape_2p62", m);
  }
  {  // Pad with 2^62 pads
    OnnxModel m;
    m.input("x", {1, 3}).output("y");
    m.init_i64("pads", {4}, {0, k2p62, 0, k2p62});
    m.node("Pad", {"x", "pads"}, {"y"}, "pad");
    onnx_seed("hostile_pad_2p62", m);
  }
  {  // Concat whose axis sum overflows
    OnnxModel m;
    raw_input(m, "a", {k2p62, 1});
    raw_input(m, "b", {k2p62, 1});
    m.output("y");
    auto* c = m.node("Concat", {"a", "b", "a", "b"}, {"y"}, "cat");
    attr_i(c, "axis", 0);
    onnx_seed("hostile_concat_overflow", m);
  }
  {  // huge kernel, strides and dilations
    OnnxModel m;
    m.input("x", {1, 1, 8, 8}).output("y");
    auto* p = m.node("MaxPool", {"x"}, {"y"}, "pool");
    attr_ints(p, "kernel_shape", {k2p62, 2});
    attr_ints(p, "dilations", {k2p62, 1});
    attr_ints(p, "strides", {k2p62, 1});
    onnx_seed("hostile_pool_2p62_kernel", m);
  }
  {  // a cycle: a -> b -> a
    OnnxModel m;
    m.input("x", {1, 4}).output("y");
    m.node("Add", {"x", "b"}, {"a"}, "first");
    m.node("Relu", {"a"}, {"b"}, "second");
    m.node("Relu", {"b"}, {"y"}, "third");
    onnx_seed("hostile_cycle", m);
  }
  {  // a self-loop
    OnnxModel m;
    m.input("x", {1, 4}).output("y");
    m.node("Add", {"x", "y"}, {"y"}, "self");
    onnx_seed("hostile_self_loop", m);
  }
  {  // missing initializer
    OnnxModel m;
    m.input("x", {1, 3, 8, 8}).output("y");
    m.node("Conv", {"x", "w_missing"}, {"y"}, "conv");
    onnx_seed("hostile_missing_initializer", m);
  }
  {  // mismatched ranks and shapes
    OnnxModel m;
    m.input("x", {1, 3, 8, 8}).output("y");
    m.init_f("w", {4, 3, 3}, ramp(36));
    m.node("Conv", {"x", "w"}, {"y"}, "conv");
    onnx_seed("hostile_conv_weight_rank", m);
    OnnxModel m2;
    m2.input("a", {2, 3}).input("b", {4, 5}).output("y").output("z");
    m2.node("MatMul", {"a", "b"}, {"y"}, "mm");
    m2.node("Add", {"a", "b"}, {"z"}, "add");
    onnx_seed("hostile_inner_dim_mismatch", m2);
    OnnxModel m3;
    m3.input("x", {1, 4, 2, 2}).output("y");
    for (const char* n : {"s", "b", "mu"}) m3.init_f(n, {4}, {1, 1, 1, 1});
    m3.init_f("v", {3}, {1, 1, 1});
    m3.node("BatchNormalization", {"x", "s", "b", "mu", "v"}, {"y"}, "bn");
    onnx_seed("hostile_batchnorm_param_size", m3);
  }
  {  // external data
    OnnxModel m;
    m.input("x", {1, 4}).output("y");
    auto* t = m.init("w", {4}, TensorProto::FLOAT);
    t->set_data_location(TensorProto::EXTERNAL);
    auto* kv = t->add_external_data();
    kv->set_key("location");
    kv->set_value("weights.bin");
    m.node("Add", {"x", "w"}, {"y"}, "add");
    onnx_seed("hostile_external_data", m);
  }
  {  // unsupported operators and domains
    OnnxModel m;
    m.input("x", {1, 1, 4, 4}).output("y");
    m.node("Resize", {"x"}, {"r"}, "up");
    auto* n = m.node("Relu", {"r"}, {"y"}, "custom");
    n->set_domain("com.example");
    onnx_seed("hostile_unsupported_op", m);
  }
  {  // opset out of range; no default-domain opset
    OnnxModel m(99);
    m.input("x", {1}).output("y");
    m.node("Relu", {"x"}, {"y"}, "r");
    onnx_seed("hostile_opset_99", m);
  }
  {  // graph output nobody produces; duplicate producer; wrong attribute type
    OnnxModel m;
    m.input("x", {1, 4}).output("y").output("ghost");
    m.node("Relu", {"x"}, {"y"}, "r1");
    m.node("Relu", {"x"}, {"y"}, "r2");
    auto* s = m.node("Softmax", {"x"}, {"s"}, "sm");
    attr_s(s, "axis", "one");
    onnx_seed("hostile_output_and_attr", m);
  }
  {  // Gather with out-of-range constant indices; Transpose with a bad perm
    OnnxModel m;
    m.input("x", {2, 3}).output("y").output("t");
    m.init_i64("data", {3}, {1, 2, 3});
    m.init_i64("idx", {2}, {5, -9});
    m.node("Gather", {"data", "idx"}, {"g"}, "gather");
    m.node("Reshape", {"x", "g"}, {"y"}, "reshape");
    auto* t = m.node("Transpose", {"x"}, {"t"}, "tr");
    attr_ints(t, "perm", {0, 0});
    onnx_seed("hostile_gather_transpose", m);
  }
  {  // truncated and empty files
    OnnxModel m;
    m.input("x", {1, 3, 8, 8}).output("y");
    m.init_f("w", {4, 3, 3, 3}, ramp(108));
    m.node("Conv", {"x", "w"}, {"y"}, "conv");
    const std::string b = m.bytes();
    put("onnx", "hostile_truncated.onnx", b.substr(0, b.size() / 2));
    put("onnx", "hostile_empty.onnx", "");
    put("onnx", "hostile_text.onnx", "this is not a protobuf\n");
  }
}

// ---------------------------------------------------------------- .npy and IDX

void npy_seeds() {
  put("npy", "f32_2x3.npy", qsim::npy_bytes(qsim::Tensor::from<float>({2, 3}, {1, 2, 3, 4, 5, 6})));
  put("npy", "f64_scalar.npy", qsim::npy_bytes(qsim::Tensor::scalar<double>(2.5)));
  put("npy", "i64_4.npy", qsim::npy_bytes(qsim::Tensor::from<int64_t>({4}, {1, -2, 3, 9})));
  put("npy", "u8_2x2x2.npy", qsim::npy_bytes(qsim::Tensor::from<uint8_t>({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8})));
  put("npy", "i8_0x3.npy", qsim::npy_bytes(qsim::Tensor(qsim::DType::kInt8, {0, 3})));
  const bool flags[] = {true, false, true};
  put("npy", "bool_3.npy", qsim::npy_bytes(qsim::Tensor::from<bool>({3}, std::span<const bool>(flags))));
  put("npy", "i16_2.npy", qsim::npy_bytes(qsim::Tensor::from<int16_t>({2}, {-1, 300})));
  put("npy", "u32_2.npy", qsim::npy_bytes(qsim::Tensor::from<uint32_t>({2}, {7, 70000})));
  // Hand-written headers: Fortran order, version 2 and 3, big-endian, hostile shapes.
  auto raw = [](int major, const std::string& dict, const std::string& data) {
    std::string h = dict;
    const std::size_t pre = major == 1 ? 10 : 12;
    h.append((64 - (pre + h.size() + 1) % 64) % 64, ' ');
    h += '\n';
    std::string out("\x93NUMPY", 6);
    out += static_cast<char>(major);
    out += '\0';
    const std::size_t n = h.size();
    out += static_cast<char>(n & 0xff);
    out += static_cast<char>((n >> 8) & 0xff);
    if (major != 1) {
      out += '\0';
      out += '\0';
    }
    return out + h + data;
  };
  std::string six_f32(24, '\0');
  for (int i = 0; i < 6; ++i) {
    const float f = static_cast<float>(i);
    std::memcpy(six_f32.data() + 4 * i, &f, 4);
  }
  put("npy", "fortran_2x3.npy", raw(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", six_f32));
  put("npy", "v2_f32.npy", raw(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", six_f32));
  put("npy", "v3_f32.npy", raw(3, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", six_f32));
  put("npy", "big_endian.npy", raw(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (6,), }", six_f32));
  put("npy", "hostile_2p62.npy",
      raw(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904,), }", six_f32));
  put("npy", "hostile_overflow.npy",
      raw(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", six_f32));
  put("npy", "hostile_negative.npy", raw(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-6,), }", six_f32));
  put("npy", "hostile_truncated.npy", raw(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (60,), }", six_f32));
  put("npy", "hostile_object.npy", raw(1, "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", six_f32));
  put("npy", "hostile_fortran_rank5.npy",
      raw(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 2, 1, 3, 1), }", six_f32));
}


void idx_seeds() {
  put("idx", "u8_labels.idx", idx(0x08, {6}, std::string("\x01\x02\x03\x04\x05\x09", 6)));
  put("idx", "u8_images.idx", idx(0x08, {2, 2, 2}, std::string("\x00\x10\x20\x30\x40\x50\x60\xff", 8)));
  put("idx", "i8.idx", idx(0x09, {3}, std::string("\x80\x00\x7f", 3)));
  put("idx", "i16.idx", idx(0x0B, {2}, std::string("\x01\x02\xff\xfe", 4)));
  put("idx", "i32.idx", idx(0x0C, {1, 2}, std::string("\x00\x00\x01\x00\xff\xff\xff\xff", 8)));
  put("idx", "f32.idx", idx(0x0D, {2}, std::string("\x3f\x80\x00\x00\xc0\x00\x00\x00", 8)));
  put("idx", "f64.idx", idx(0x0E, {1}, std::string("\x3f\xf0\x00\x00\x00\x00\x00\x00", 8)));
  put("idx", "scalar_rank0.idx", idx(0x08, {}, std::string("\x07", 1)));
  put("idx", "zero_dim.idx", idx(0x08, {0, 28, 28}, ""));
  put("idx", "images.idx.gz", gzip(idx(0x08, {3, 4, 4}, std::string(48, '\x11'))));
  put("idx", "hostile_huge_dims.idx", idx(0x0E, {0xffffffff, 0xffffffff, 0xffffffff}, std::string(8, '\0')));
  put("idx", "hostile_truncated.idx", idx(0x0C, {1000}, std::string(10, '\0')));
  put("idx", "hostile_bad_type.idx", idx(0x0A, {1}, std::string(1, '\0')));
  const std::string gz = gzip(idx(0x08, {64, 64}, std::string(4096, 'a')));
  put("idx", "hostile_truncated.gz", gz.substr(0, gz.size() / 2));
  put("idx", "hostile_gzip_bomb.gz", gzip(std::string(1 << 20, '\0')));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_make_corpus OUT_DIR (e.g. tests/fuzz/corpus)\n";
    return 2;
  }
  g_out = argv[1];
  try {
    valid_models();
    hostile_models();
    npy_seeds();
    idx_seeds();
  } catch (const qsim::Error& e) {
    std::cerr << "fuzz_make_corpus: " << e.what() << "\n";
    return 2;
  }
  std::cout << "wrote " << g_count << " seed files under " << g_out.string() << "\n";
  return 0;
}
