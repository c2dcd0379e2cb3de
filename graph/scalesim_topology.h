// SCALE-Sim topology CSV import (a model source for timing).
//
// Conv form (SCALE-Sim's default):
//   Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,
// with an optional 9th column for a separate column stride. GEMM form (SCALE-Sim's
// `-i gemm`):  Layer, M, N, K,
// The first row is a header; blank rows are skipped; a trailing comma is allowed.
// SCALE-Sim v3's sparsity column is recognised by its header ("Sparsity", values
// N:M) in either form: dense layers (N == M or empty) import as usual, a sparse
// layer is refused naming it (qsim does not model sparse dataflows).
// As in SCALE-Sim, convolutions are unpadded ("valid"), batch 1, and a layer whose
// name contains "DP" is depthwise: Channels independent single-channel convolutions
// (imported as one Conv with group = Channels).
// Each row becomes one compute layer with its own input; weights are shape-only.
#pragma once

#include <string>

#include "graph/layer_graph.h"

namespace qsim {

enum class TopologyForm { kAuto, kConv, kGemm };  // kAuto: decided by the header row

LayerGraph import_scalesim_topology(const std::string& path, TopologyForm form = TopologyForm::kAuto);
LayerGraph import_scalesim_topology_text(const std::string& text, const std::string& source,
                                         TopologyForm form = TopologyForm::kAuto);

}  // namespace qsim
