// HwSpec — the accelerator being modelled, as plain validated data.
//
// Parsed once (configs/*.yaml via sim/config/hw_spec_yaml.h, or a SCALE-Sim .cfg
// via sim/config/scalesim_cfg.h) and then only read. Backends take a HwSpec and
// never see YAML. The dotted key of every field (array.rows, pe.precision, ...)
// is a public contract: sim/hw_keys.h describes each one (type, default, range,
// unit) and gets, sets and validates them by name.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qsim {

enum class Dataflow : uint8_t { kOS, kWS, kIS };  // output-, weight-, input-stationary
// How configs spell each enumeration, indexed by its value.
inline constexpr std::string_view kDataflowNames[] = {"os", "ws", "is"};
std::string_view dataflow_name(Dataflow d);  // "os" | "ws" | "is"

// How a PE turns operand widths into throughput (see docs/timing-model.md).
enum class PeModel : uint8_t {
  kFixed,      // one width (base_bits); narrower operands run at full width, gain nothing
  kBitFusion,  // fusible bricks: MACs/PE/cycle = (B/wbits) * (B/abits), widths rounded up to a supported one
  kBitSerial,  // one operand (or both) streamed bit by bit: cycles per MAC grow with bits
};
inline constexpr std::string_view kPeModelNames[] = {"fixed", "bitfusion", "bitserial"};
std::string_view pe_model_name(PeModel m);  // "fixed" | "bitfusion" | "bitserial"

// Bit-serial PEs: which operand is serialised.
enum class SerialOperand : uint8_t {
  kActivation,  // cycles per MAC = abits (weights bit-parallel, as in Stripes)
  kBoth,        // cycles per MAC = wbits * abits (both serial, as in bit-serial BISMO-style PEs)
};
inline constexpr std::string_view kSerialOperandNames[] = {"activation", "both"};
std::string_view serial_operand_name(SerialOperand s);  // "activation" | "both"

struct ArraySpec {
  int64_t rows = 0;           // array.rows
  int64_t cols = 0;           // array.cols
  Dataflow dataflow = Dataflow::kOS;  // array.dataflow
  double clock_mhz = 0.0;     // array.clock_mhz
  friend bool operator==(const ArraySpec&, const ArraySpec&) = default;
};

struct PeSpec {
  PeModel precision = PeModel::kFixed;  // pe.precision
  int base_bits = 8;                    // pe.base_bits: width of one PE's multiplier
  std::vector<int> widths;              // pe.widths: operand widths the PE accepts (ascending)
  int acc_bits = 32;                    // pe.acc_bits: accumulator width
  SerialOperand serial = SerialOperand::kActivation;  // pe.serial (bitserial only)
  friend bool operator==(const PeSpec&, const PeSpec&) = default;
};

struct MemorySpec {
  double ifmap_kib = 0.0;   // memory.ifmap_kib  (per-operand SRAM, KiB = 1024 bytes)
  double filter_kib = 0.0;  // memory.filter_kib
  double ofmap_kib = 0.0;   // memory.ofmap_kib
  int64_t banks = 1;        // memory.banks (power of two)
  bool double_buffer = true;  // memory.double_buffer
  // DRAM interface. unlimited = SCALE-Sim's CALC mode: transfers never stall.
  bool dram_unlimited = false;        // memory.dram_bytes_per_cycle: unlimited
  double dram_bytes_per_cycle = 0.0;  // memory.dram_bytes_per_cycle
  int64_t dram_latency_cycles = 0;    // memory.dram_latency_cycles
  int word_bits = 8;        // memory.word_bits: SRAM/DRAM word width
  bool pack_narrow = true;  // memory.pack_narrow: several narrow operands share a word
  friend bool operator==(const MemorySpec&, const MemorySpec&) = default;
};

// Energy table. MAC energy by operand width: `mac_pj[w]` is a w x w MAC; a w x a
// MAC uses an explicit `mac_pj_pair[{w,a}]` when given, else sqrt(mac_pj[w]*mac_pj[a])
// (exact when MAC energy grows with the product of the widths, as in Bit Fusion).
struct EnergySpec {
  std::map<int, double> mac_pj;                  // energy.mac_pj.<w>
  std::map<std::pair<int, int>, double> mac_pj_pair;  // energy.mac_pj.<w>x<a>
  double sram_read_pj_per_byte = 0.0;   // energy.sram_read_pj_per_byte
  double sram_write_pj_per_byte = 0.0;  // energy.sram_write_pj_per_byte
  double dram_pj_per_byte = 0.0;        // energy.dram_pj_per_byte
  double vector_op_pj = 0.0;            // energy.vector_op_pj: one element through the vector unit
  friend bool operator==(const EnergySpec&, const EnergySpec&) = default;
};

// The post-processing (vector) unit beside the array: requantization between
// layers of different precision, and standalone element-wise ops / pooling.
struct VectorSpec {
  int64_t lanes = 0;                // vector.lanes: elements per cycle
  bool fuse_elementwise = true;     // vector.fuse_elementwise: Add/activation fused into the producer's output stage
  friend bool operator==(const VectorSpec&, const VectorSpec&) = default;
};

// How the mapper may cut a layer beyond SCALE-Sim's fold structure.
struct MappingSpec {
  // mapping.chunking: WS/IS may split the streamed dimension into chunks whose
  // partial sums fit the ofmap buffer, when that lowers the estimated time under
  // finite DRAM bandwidth. Off (the default) keeps SCALE-Sim's folds, so compute
  // cycles equal SCALE-Sim's compute model exactly; chunks add fill/drain cycles.
  bool chunking = false;
  friend bool operator==(const MappingSpec&, const MappingSpec&) = default;
};

// Where each key of a spec was stated ("hw.yaml:12", "--set memory.ifmap_kib=0.5"),
// so a check made after validation (the buffer floor of sim/mapping.cpp) names the
// culprit the way validation does. Not part of the spec's value: specs with the
// same keys are equal wherever their keys were stated. Shared, so copying a spec
// (one per sweep point) does not copy the map.
struct HwKeyPlaces {
  std::shared_ptr<const std::map<std::string, std::string, std::less<>>> stated;
  // The first of `keys` stated by an override (--set), else the first stated in a
  // file, else `fallback` (HwSpecLocator::any's rule, for a spec already finished).
  std::string culprit(std::initializer_list<std::string_view> keys, std::string_view fallback) const;
  friend bool operator==(const HwKeyPlaces&, const HwKeyPlaces&) { return true; }
};

struct HwSpec {
  std::string name;    // config name: the `name:` key, else the file stem
  std::string source;  // file it came from, for messages
  HwKeyPlaces places;  // where its keys were stated (empty for a spec built in code)
  ArraySpec array;
  PeSpec pe;
  MemorySpec memory;
  EnergySpec energy;
  VectorSpec vector;
  MappingSpec mapping;
  friend bool operator==(const HwSpec&, const HwSpec&) = default;
};

// How messages name a hardware: the file it came from, else its name.
inline std::string_view hw_where(const HwSpec& hw) {
  if (!hw.source.empty()) return hw.source;
  if (!hw.name.empty()) return hw.name;
  return "hardware";
}

// ---- The PE and energy semantics every backend shares (docs/hardware-config.md) ----

// The width an operand of `bits` runs at: the smallest entry of pe.widths that is
// >= bits, or 0 when bits exceeds them all (the PE cannot run it).
int effective_width(const PeSpec& pe, int bits);

// Peak MACs one PE completes per cycle for wbits x abits operands, after rounding
// both up with effective_width: fixed 1; bitfusion (B/w)*(B/a); bitserial 1/a
// (pe.serial activation) or 1/(w*a) (both). Throws qsim::Error naming hw.source
// when a width is wider than every entry of pe.widths.
double macs_per_pe_per_cycle(const HwSpec& hw, int wbits, int abits);

// Energy of one wbits x abits MAC (widths rounded up as above): energy.mac_pj
// for w == a, the explicit "WxA" pair when given, else sqrt(mac_pj[w]*mac_pj[a]).
// Throws qsim::Error like macs_per_pe_per_cycle.
double mac_energy_pj(const HwSpec& hw, int wbits, int abits);

// The energy table used when a config gives none: Horowitz (ISSCC 2014, 45 nm).
// An 8x8 MAC = 8-bit multiply 0.2 pJ + 8-bit add 0.03 pJ = 0.23 pJ, scaled by
// (w/8)^2 for each width in pe.widths (multiplier energy grows with the product
// of the widths); SRAM 2.5 pJ/byte read and write (32 KB array, 20 pJ per 64-bit
// access); DRAM 160 pJ/byte (640 pJ per 32-bit word); vector op 3.2 pJ (32-bit
// multiply 3.1 pJ + add 0.1 pJ, a requantization step).
EnergySpec default_energy_spec(const PeSpec& pe);

}  // namespace qsim
