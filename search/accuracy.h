// The search's accuracy side, behind two small pieces (docs/search.md section 3):
//
//   DropTable            the additive estimate: per group and option, the estimated
//                        top-1 drop in points with only that group at that option
//                        (every other group at its reference). An allocation's
//                        estimated drop is the sum over its groups. It is the est_drop
//                        of `qsim sensitivity` (search/sensitivity.h): read from its
//                        --json file, or measured in the run by the same code
//                        (search/accuracy_quant.h estimate_drop_table).
//   AllocationAccuracy   "this allocation's true top-1 on these samples": the whole
//                        allocation quantized and run (fake-quant, bit-exact with
//                        `qsim quantize`). The search corrects its estimate with it on a
//                        held-out calibration subset and reports the test split with it.
//
// Both are implemented on the quantization library in search/accuracy_quant.h, the one
// file that knows quant/.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "graph/precision_alloc.h"
#include "search/search_problem.h"

namespace qsim {

class AllocationAccuracy {
 public:
  virtual ~AllocationAccuracy() = default;
  // Top-1 in percent of the allocation (one entry per compute layer). Thread-safe;
  // repeated allocations are answered from a cache.
  virtual double top1(std::span<const LayerPrecision> p) = 0;
  virtual int64_t samples() const = 0;
  virtual std::string description() const = 0;
  virtual int64_t evaluations() const = 0;  // distinct allocations run
  virtual double seconds() const = 0;       // spent running them
  // Work run so far in whole-model passes over the samples (a run that starts at a
  // cached cut counts the part after it; MACs), the reference runs included.
  virtual double passes() const = 0;
};

struct DropTable {
  std::vector<std::vector<double>> drop;  // [group][option], points of top-1, >= 0
  double reference_top1 = 0;              // the reference allocation's top-1 where measured (NaN: read)
  std::string source;                     // how it was obtained, for reports
  int64_t evaluations = 0;
  double seconds = 0;

  // Sum over groups of drop[g][option[g]], in group order.
  double estimate(std::span<const uint8_t> option) const;
  nlohmann::json to_json(const SearchProblem& p) const;
};

// Reads `est_drop` from a `qsim sensitivity --json` file: rows {layer, bits, abits,
// est_drop[, group]} and, where the file has them, its "groups". A group's drop at
// option (b, a) is its layers' est_drop at weight width b, summed over the file's
// groups it covers (each counted once), or its largest member's when the file has no
// groups. The reference option's drop is 0. Throws qsim::Error "<source>: ..." when
// the file is for other layers, was measured with other activation widths, lacks a
// width of the options or has no est_drop (made by a qsim sensitivity without it).
DropTable drop_table_from_sensitivity(const nlohmann::json& j, std::string_view source, const SearchProblem& p);

}  // namespace qsim
