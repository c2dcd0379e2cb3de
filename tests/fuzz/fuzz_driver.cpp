// libFuzzer entry points shared by every target (see fuzz_util.h).
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  qsim::fuzz::init();
  try {
    fuzz_init();
  } catch (const qsim::Error& e) {  // a fixture of the source tree is missing or broken
    std::fprintf(stderr, "fuzz target set-up failed: %s\n", e.what());
    std::abort();
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    fuzz_one(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const qsim::Error& e) {
    qsim::fuzz::check_message(e);
  }
  return 0;
}
