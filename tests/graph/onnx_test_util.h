// Builds small ONNX models in C++ with the protobuf classes, for importer tests.
#pragma once

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include <onnx/onnx.pb.h>

#include "graph/onnx_import.h"

namespace qsim::testing {

using onnx::TensorProto;

class OnnxModel {
 public:
  explicit OnnxModel(int64_t opset = 13, int64_t ir_version = 7) {
    m_.set_ir_version(ir_version);
    m_.set_producer_name("qsim-test");
    auto* op = m_.add_opset_import();
    op->set_domain("");
    op->set_version(opset);
    m_.mutable_graph()->set_name("test_graph");
  }

  // A graph input; a dim of -1 is symbolic ("N"), -2 leaves the dim without value or name.
  OnnxModel& input(const std::string& name, std::vector<int64_t> dims, int elem = TensorProto::FLOAT) {
    set_type(m_.mutable_graph()->add_input(), name, dims, elem);
    return *this;
  }
  // A graph output; without dims the output carries no shape.
  OnnxModel& output(const std::string& name, int elem = TensorProto::FLOAT) {
    auto* v = m_.mutable_graph()->add_output();
    v->set_name(name);
    v->mutable_type()->mutable_tensor_type()->set_elem_type(elem);
    return *this;
  }
  OnnxModel& output(const std::string& name, std::vector<int64_t> dims, int elem = TensorProto::FLOAT) {
    set_type(m_.mutable_graph()->add_output(), name, dims, elem);
    return *this;
  }

  // Initializers with typed fields.
  TensorProto* init_f(const std::string& name, std::vector<int64_t> dims, const std::vector<float>& v) {
    TensorProto* t = init(name, dims, TensorProto::FLOAT);
    for (float x : v) t->add_float_data(x);
    return t;
  }
  TensorProto* init_i64(const std::string& name, std::vector<int64_t> dims, const std::vector<int64_t>& v) {
    TensorProto* t = init(name, dims, TensorProto::INT64);
    for (int64_t x : v) t->add_int64_data(x);
    return t;
  }
  // Raw little-endian bytes of any element type.
  template <typename T>
  TensorProto* init_raw(const std::string& name, std::vector<int64_t> dims, int elem, const std::vector<T>& v) {
    TensorProto* t = init(name, dims, elem);
    std::string bytes(v.size() * sizeof(T), '\0');
    if (!v.empty()) std::memcpy(bytes.data(), v.data(), bytes.size());
    t->set_raw_data(bytes);
    return t;
  }
  TensorProto* init(const std::string& name, std::vector<int64_t> dims, int elem) {
    TensorProto* t = m_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(elem);
    for (int64_t d : dims) t->add_dims(d);
    return t;
  }

  onnx::NodeProto* node(const std::string& op, std::vector<std::string> inputs, std::vector<std::string> outputs,
                        const std::string& name = "") {
    auto* n = m_.mutable_graph()->add_node();
    n->set_op_type(op);
    if (!name.empty()) n->set_name(name);
    for (auto& i : inputs) n->add_input(i);
    for (auto& o : outputs) n->add_output(o);
    return n;
  }

  onnx::ModelProto& proto() { return m_; }
  std::string bytes() const { return m_.SerializeAsString(); }
  LayerGraph import(const OnnxImportOptions& o = {}) const { return import_onnx_bytes(bytes(), "m.onnx", o); }

 private:
  static void set_type(onnx::ValueInfoProto* v, const std::string& name, const std::vector<int64_t>& dims, int elem) {
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem);
    auto* shape = tt->mutable_shape();
    for (int64_t d : dims) {
      auto* dim = shape->add_dim();
      if (d == -1) {
        dim->set_dim_param("N");
      } else if (d >= 0) {
        dim->set_dim_value(d);
      }
    }
  }

  onnx::ModelProto m_;
};

inline void attr_i(onnx::NodeProto* n, const std::string& name, int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}
inline void attr_f(onnx::NodeProto* n, const std::string& name, float v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}
inline void attr_s(onnx::NodeProto* n, const std::string& name, const std::string& v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(v);
}
inline void attr_ints(onnx::NodeProto* n, const std::string& name, std::initializer_list<int64_t> v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}
inline onnx::TensorProto* attr_t(onnx::NodeProto* n, const std::string& name) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::TENSOR);
  return a->mutable_t();
}

// A float graph input with explicit dim values (negative ones included, unlike
// OnnxModel::input), for hostile-shape inputs.
inline void raw_input(OnnxModel& m, const std::string& name, const std::vector<int64_t>& dims) {
  auto* v = m.proto().mutable_graph()->add_input();
  v->set_name(name);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  auto* shape = tt->mutable_shape();
  for (int64_t d : dims) shape->add_dim()->set_dim_value(d);
}

}  // namespace qsim::testing
