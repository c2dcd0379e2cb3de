// QDQ ONNX export of a QuantizedModel (`qsim quantize --out M.q.onnx`).
//
// The model is written as standard float ONNX operators with the quantization made
// explicit, the form ONNX Runtime's quantization tools produce:
// - weights: integer initializers (int8, or int16 above 8 bits) holding the quantized
//   values, each followed by DequantizeLinear (per-channel through `axis`);
// - biases: int32 initializers at scale s_in * s_w, DequantizeLinear;
// - every quantized activation: QuantizeLinear -> [Clip] -> DequantizeLinear after its
//   producer (and after each inserted requantization). Activations narrower than their
//   container (uint8/int8 up to 8 bits, uint16/int16 above) get an integer Clip to the
//   narrow range between the two, so ONNX Runtime and our importer both reproduce the
//   w-bit saturation exactly; narrow weights need nothing (the values are in range).
// Opset 13 when every width is <= 8 bits, else 21 (16-bit QuantizeLinear). MaxPool,
// views, Transpose and zero Pad keep their input's grid and carry no Q/DQ pair.
// Our own importer loads the result (QuantizeLinear/DequantizeLinear are executor
// operators; DequantizeLinear of constants is folded at import).
#pragma once

#include <string>

#include "quant/quant_model.h"

namespace qsim {

// The serialized ModelProto. Throws qsim::Error naming the node for an operator the
// exporter cannot write (e.g. training-mode BatchNormalization).
std::string export_qdq_onnx(const QuantizedModel& m);

}  // namespace qsim
