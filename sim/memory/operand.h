// The three operands of a layer's GEMM, each with its own SRAM: ifmap (A, the
// activations as im2col), filter (B, the weights), ofmap (Y, outputs and partial sums).
#pragma once

#include <cstdint>
#include <string_view>

namespace qsim {

enum class Operand : uint8_t { kIfmap, kFilter, kOfmap };
std::string_view operand_name(Operand o);  // "IFMAP", "FILTER", "OFMAP" (SCALE-Sim's file names)

}  // namespace qsim
