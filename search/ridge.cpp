#include "search/ridge.h"

// GCC 12 reports locals of Eigen's AVX-512 packet code as maybe uninitialized (as in
// runtime/gemm.cpp); the pragma is confined to this file.
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <Eigen/Dense>

namespace qsim {

std::vector<double> ridge_dual(const std::vector<double>& x, std::size_t n, std::size_t m, const std::vector<double>& r,
                               double ridge) {
  using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const auto rows = static_cast<Eigen::Index>(n), cols = static_cast<Eigen::Index>(m);
  const Eigen::Map<const Mat> X(x.data(), rows, cols);
  const Eigen::Map<const Eigen::VectorXd> R(r.data(), rows);
  const Mat k = X * X.transpose() + ridge * Mat::Identity(rows, rows);
  const Eigen::VectorXd d = X.transpose() * k.ldlt().solve(R);
  return std::vector<double>(d.data(), d.data() + d.size());
}

}  // namespace qsim
