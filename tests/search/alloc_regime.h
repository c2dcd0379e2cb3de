// The regime the allocator tests run in, shared by quantune_test and methods_test.
#pragma once

#include "search/quantune.h"

namespace qsim {

// w8 high, w2 low, 8-bit activations.
inline AllocateOptions w8_low2_a8() {
  AllocateOptions o;
  o.high_bits = 8;
  o.low_bits = 2;
  o.abits = 8;
  return o;
}

}  // namespace qsim
