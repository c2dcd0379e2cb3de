#include "sim/analytical/fold_classes.h"

namespace qsim {

namespace {

// Representative positions of one loop axis of length n. Positions whose own
// state and whose neighbours' state differ (the ends and their neighbours) are
// kept alone; the middle positions 2..n-3 share one representative. With
// `ends_only` (the repeat axis, where nothing but the very first and very last
// fold is special) only 0 and n-1 are kept alone.
struct AxisRep {
  int64_t pos;
  int64_t count;
};
int axis_reps(int64_t n, bool ends_only, AxisRep out[5]) {
  const int64_t edge = ends_only ? 1 : 2;  // positions kept alone at each end
  if (n <= 2 * edge + 1) {
    for (int64_t p = 0; p < n; ++p) out[p] = {p, 1};
    return static_cast<int>(n);
  }
  int k = 0;
  for (int64_t p = 0; p < edge; ++p) out[k++] = {p, 1};
  out[k++] = {edge, n - 2 * edge};
  for (int64_t p = n - edge; p < n; ++p) out[k++] = {p, 1};
  return k;
}

}  // namespace

FoldPosition fold_position(const Schedule& s, int64_t index) {
  const int64_t per_chunk = s.row_folds * s.col_folds, n_inner = s.inner_folds();
  FoldPosition p;
  p.repeat = index / (s.chunks * per_chunk);
  const int64_t in_repeat = index % (s.chunks * per_chunk);
  p.chunk = in_repeat / per_chunk;
  const int64_t rem = in_repeat % per_chunk;
  p.outer = rem / n_inner;
  p.inner = rem % n_inner;
  return p;
}

int64_t fold_index(const Schedule& s, const FoldPosition& p) {
  return ((p.repeat * s.chunks + p.chunk) * s.outer_folds() + p.outer) * s.inner_folds() + p.inner;
}

int fold_kind(const Schedule& s, const FoldPosition& p) {
  auto k = [](int64_t i, int64_t n) { return (i == 0 ? 1 : 0) | (i == n - 1 ? 2 : 0); };  // 0 middle, 1 first, 2 last, 3 only
  return k(p.chunk, s.chunks) * 16 + k(p.outer, s.outer_folds()) * 4 + k(p.inner, s.inner_folds());
}

FoldPosition next_fold(const Schedule& s, FoldPosition p) {
  if (++p.inner < s.inner_folds()) return p;
  p.inner = 0;
  if (++p.outer < s.outer_folds()) return p;
  p.outer = 0;
  if (++p.chunk < s.chunks) return p;
  p.chunk = 0;
  ++p.repeat;
  return p;
}

FoldPosition prev_fold(const Schedule& s, FoldPosition p) {
  if (--p.inner >= 0) return p;
  p.inner = s.inner_folds() - 1;
  if (--p.outer >= 0) return p;
  p.outer = s.outer_folds() - 1;
  if (--p.chunk >= 0) return p;
  p.chunk = s.chunks - 1;
  --p.repeat;
  return p;
}

FoldClasses fold_classes(const Schedule& s) {
  FoldClasses out;
  out.size = 0;
  AxisRep reps[5], chs[5], outs[5], ins[5];
  const int nr = axis_reps(s.gemm.repeats, true, reps);
  const int nc = axis_reps(s.chunks, false, chs);
  const int no = axis_reps(s.outer_folds(), false, outs);
  const int ni = axis_reps(s.inner_folds(), false, ins);
  const int64_t per_chunk = s.row_folds * s.col_folds, n_inner = s.inner_folds();
  for (int r = 0; r < nr; ++r)
    for (int c = 0; c < nc; ++c)
      for (int o = 0; o < no; ++o)
        for (int i = 0; i < ni; ++i)
          out.items[static_cast<std::size_t>(out.size++)] = {
              (reps[r].pos * s.chunks + chs[c].pos) * per_chunk + outs[o].pos * n_inner + ins[i].pos,
              reps[r].count * chs[c].count * outs[o].count * ins[i].count,
              {reps[r].pos, chs[c].pos, outs[o].pos, ins[i].pos}};
  return out;
}

}  // namespace qsim
