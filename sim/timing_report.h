// TimingReport — per-layer timing, traffic and energy rows plus totals.
//
// The same type comes out of every timing backend (analytical, SystemC, RTL);
// report writers (table, CSV, JSON, SCALE-Sim CSVs) only format it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "graph/layer_graph.h"

namespace qsim {

enum class Bound : uint8_t { kCompute, kMemory };

// Bytes per operand.
struct OperandBytes {
  int64_t ifmap = 0;
  int64_t filter = 0;
  int64_t ofmap = 0;
  int64_t total() const { return ifmap + filter + ofmap; }
};

struct EnergyBreakdown {  // pJ
  double mac = 0.0;
  double sram = 0.0;
  double dram = 0.0;
  double vector = 0.0;  // requantization and standalone ops
  double total() const { return mac + sram + dram + vector; }
};

// One row: a compute layer (Conv/Gemm/MatMul), or a standalone op that runs on
// the vector unit (is_compute == false: Add, Pool, ... and requantization).
struct LayerTiming {
  std::string name;
  std::string op;
  bool is_compute = true;
  GemmView gemm;
  int wbits = 8;
  int abits = 8;
  int64_t folds = 0;
  int64_t compute_cycles = 0;  // array busy, fill and drain skew included
  int64_t stall_cycles = 0;    // waiting for DRAM
  int64_t vector_cycles = 0;   // requantization / standalone op on the vector unit
  int64_t vector_ops = 0;      // elements through the vector unit (vector rows; 0 for compute rows)
  int64_t total_cycles = 0;    // compute + stall + vector
  double utilization = 0.0;         // useful MACs / (PE MAC slots x total cycles), 0..1
  double mapping_efficiency = 0.0;  // SCALE-Sim's "Mapping Efficiency": used PEs / PEs over folds, 0..1
  double compute_util = 0.0;        // SCALE-Sim's "Compute Util": useful MACs / slots over compute cycles, 0..1
  bool requant = false;             // a precision change (requantize step) is charged here
  // Non-compute rows: wbits is the width read, abits the width written (a
  // "Requantize" row converts wbits -> abits).
  OperandBytes sram_read;
  OperandBytes sram_write;
  OperandBytes dram_read;
  OperandBytes dram_write;
  EnergyBreakdown energy;
  Bound bound = Bound::kCompute;

  int64_t sram_bytes() const { return sram_read.total() + sram_write.total(); }
  int64_t dram_bytes() const { return dram_read.total() + dram_write.total(); }
  double energy_pj() const { return energy.total(); }
};

struct TimingReport {
  std::string backend;  // "analytical", "systemc", "rtl"
  std::string model;
  std::string hw;
  double clock_mhz = 0.0;
  std::vector<LayerTiming> layers;
  std::size_t rows_omitted = 0;  // rows of the network left out of this report (qsim --layers): totals cover `layers` only

  int64_t total_cycles() const;
  int64_t compute_cycles() const;
  int64_t stall_cycles() const;
  int64_t vector_cycles() const;
  int64_t sram_bytes() const;
  int64_t dram_bytes() const;
  double energy_pj() const;
  EnergyBreakdown energy() const;  // the parts summed over layers (pJ)
  double energy_uj() const { return energy_pj() * 1e-6; }
  double latency_ms() const;  // total_cycles / clock
  int requant_boundaries() const;
};

}  // namespace qsim
