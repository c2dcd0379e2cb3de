// IDX reader (plain and gzip): header, element types, big-endian data, gzip streams.
#include "data/idx.h"
#include "tests/fuzz/fuzz_util.h"

void fuzz_init() {}

void fuzz_one(std::string_view bytes) {
  const qsim::Tensor t = qsim::parse_idx(bytes, "fuzz.idx");
  if (static_cast<int64_t>(t.nbytes()) != t.numel() * static_cast<int64_t>(qsim::dtype_size(t.dtype())))
    qsim::fuzz::invariant_failed("IDX tensor size disagrees with its shape", qsim::shape_str(t.shape()));
}
