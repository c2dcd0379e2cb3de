// Fold classes — how the analytical backend sums a Schedule in O(1) per layer.
//
// A fold's cycles and transfers depend only on its *kind*: whether each loop
// index (chunk, outer fold, inner fold) is the first, a middle one, the last or
// the only one of its loop (the repeat does not matter) -- at most 64 kinds. The
// double-buffered stage of a fold also reads its neighbours' transfers, so folds
// are grouped into classes whose own, previous and next kinds agree: per loop axis
// the positions 0, 1, n-2, n-1 stand alone and 2..n-3 share one representative
// (the repeat axis needs only its ends), at most 3 x 5 x 5 x 5 classes. Any per-fold
// quantity that depends on a fold and its two neighbours, summed over the classes
// (count x value at the representative), equals its sum over every fold
// (docs/timing-model.md section 7). Summation only: a cycle-level backend walks the
// folds themselves (Schedule::fold, sim/program.h FoldWalk).
#pragma once

#include <array>
#include <cstdint>

#include "sim/mapping.h"

namespace qsim {

// A fold's place in the loop nest (repeat -> chunk -> outer -> inner).
struct FoldPosition {
  int64_t repeat, chunk, outer, inner;
};
FoldPosition fold_position(const Schedule& s, int64_t index);
int64_t fold_index(const Schedule& s, const FoldPosition& p);
constexpr int kFoldKinds = 64;
int fold_kind(const Schedule& s, const FoldPosition& p);  // 0 .. kFoldKinds-1
FoldPosition next_fold(const Schedule& s, FoldPosition p);  // p must not be the last fold
FoldPosition prev_fold(const Schedule& s, FoldPosition p);  // p must not be the first fold

struct FoldClass {      // no initialisers: FoldClasses is filled on the hot path
  int64_t index;        // the representative fold
  int64_t count;        // folds in the class
  FoldPosition position;  // the representative's place in the loop nest
};
struct FoldClasses {
  std::array<FoldClass, 375> items;  // <= 3 (repeats) x 5 (chunks) x 5 (outer) x 5 (inner); first `size` set
  int size = 0;
  const FoldClass* begin() const { return items.data(); }
  const FoldClass* end() const { return items.data() + size; }
};
FoldClasses fold_classes(const Schedule& s);

}  // namespace qsim
