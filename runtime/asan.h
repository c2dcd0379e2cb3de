// Whether this translation unit is built with AddressSanitizer (GCC defines
// __SANITIZE_ADDRESS__, clang answers __has_feature): QSIM_ASAN is 1 then, 0 otherwise.
// The GEMM's uninstrumented kernels check their ranges themselves only then (gemm.cpp).
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define QSIM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QSIM_ASAN 1
#endif
#endif
#ifndef QSIM_ASAN
#define QSIM_ASAN 0
#endif
