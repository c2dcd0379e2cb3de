// Ridge regression in its dual form, for few observations of many features:
// the delta minimising |r - X delta|^2 + ridge |delta|^2 is
// X^T (X X^T + ridge I)^-1 r (an n x n solve, n = observations). The search's
// correction of its estimate (search/codesign.h, docs/search.md section 3).
#pragma once

#include <cstddef>
#include <vector>

namespace qsim {

// x: n rows of m features (row-major, n * m values); r: n targets; ridge > 0.
std::vector<double> ridge_dual(const std::vector<double>& x, std::size_t n, std::size_t m, const std::vector<double>& r,
                               double ridge);

}  // namespace qsim
