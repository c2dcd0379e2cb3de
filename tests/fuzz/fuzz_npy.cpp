// .npy reader (versions 1-3, every dtype, C and Fortran order). An accepted
// array must write back (npy_bytes) and read again to the same bytes.
#include "data/npy.h"
#include "tests/fuzz/fuzz_util.h"

void fuzz_init() {}

void fuzz_one(std::string_view bytes) {
  const qsim::Tensor t = qsim::parse_npy(bytes, "fuzz.npy");
  const std::string out = qsim::npy_bytes(t);
  qsim::Tensor back;
  try {
    back = qsim::parse_npy(out, "round-trip.npy");
  } catch (const qsim::Error& e) {
    qsim::fuzz::invariant_failed("npy_bytes output is rejected", e.what());
  }
  if (back.dtype() != t.dtype() || back.shape() != t.shape() || back.nbytes() != t.nbytes() ||
      !std::equal(back.bytes().begin(), back.bytes().end(), t.bytes().begin()))
    qsim::fuzz::invariant_failed(".npy round trip changed the array", qsim::shape_str(t.shape()));
}
