#include "graph/tensor.h"

#include <gtest/gtest.h>

#include "graph/error.h"

namespace qsim {
namespace {

TEST(Tensor, ShapeAndTypedAccess) {
  Tensor t(DType::kFloat32, {2, 3});
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.nbytes(), 24u);
  auto d = t.data<float>();
  d[4] = 2.5f;
  EXPECT_EQ(t.as_double(4), 2.5);
  EXPECT_THROW(t.data<int64_t>(), std::logic_error);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(d.data()) % 64, 0u);
}

TEST(Tensor, ScalarIsNotEmpty) {
  Tensor def;
  EXPECT_TRUE(def.empty());
  auto s = Tensor::scalar<int64_t>(7);
  EXPECT_FALSE(s.empty());
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(s.as_int64(0), 7);
}

TEST(Tensor, ReshapeKeepsDataAndChecksCount) {
  auto t = Tensor::from<int64_t>({2, 2}, std::vector<int64_t>{1, 2, 3, 4});
  auto r = t.reshaped({4});
  EXPECT_EQ(r.shape(), Shape({4}));
  EXPECT_EQ(r.as_int64(3), 4);
  EXPECT_THROW(t.reshaped({5}), std::logic_error);
}

TEST(Tensor, CastConverts) {
  auto t = Tensor::from<float>({3}, std::vector<float>{1.5f, -2.0f, 3.0f});
  auto i = t.cast(DType::kInt32);
  EXPECT_EQ(i.data<int32_t>()[0], 1);
  EXPECT_EQ(i.data<int32_t>()[1], -2);
}

TEST(Shape, NumelRejectsNegativeAndOverflow) {
  EXPECT_EQ(shape_numel({}), 1);
  EXPECT_EQ(shape_numel({0, 5}), 0);
  EXPECT_THROW(shape_numel({-1, 2}), Error);
  EXPECT_THROW(shape_numel({int64_t{1} << 62, 4}), Error);
  EXPECT_EQ(shape_str({1, 3, 224, 224}), "1x3x224x224");
}

}  // namespace
}  // namespace qsim
