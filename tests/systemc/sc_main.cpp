// The SystemC test binaries' entry point: libsystemc supplies main() and calls
// sc_main, which runs the GoogleTest suite (ctest runs each test in its own
// process, so every test elaborates its own model).
#include <gtest/gtest.h>

#include <systemc>

int sc_main(int argc, char* argv[]) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
