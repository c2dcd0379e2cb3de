// Graph passes run after import, as an explicit list of stages (ZigZag style):
// a different pipeline is a different list, not different control flow.
//
// Each pass takes a finalized LayerGraph, edits it and finalizes it again, so
// the next pass sees fresh producers/consumers and a checked topological order.
// A pass only rewrites what it can prove equivalent: fusion requires that the
// intermediate tensor has a single consumer and is not a graph output.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "graph/layer_graph.h"

namespace qsim {

struct Pass {
  std::string_view name;
  void (*run)(LayerGraph&);
};

// Removes kIdentity nodes by rewiring their consumers (or renaming their
// producer's output when the Identity feeds a graph output). An Identity stays
// only where removing it would change the graph's interface: between a graph
// input (or constant, or another graph output) and a graph output.
void remove_identities(LayerGraph& g);

// Folds BatchNormalization into the Conv that produces its input:
//   s = scale / sqrt(var + eps);  W'[o] = W[o] * s[o];  b'[o] = (b[o] - mean[o]) * s[o] + B[o].
// When the constants carry data the weights and bias are rewritten (as new
// values if another node shares them); without data only shapes change (the
// Conv gains a bias). BNs without a foldable Conv producer stay kBatchNorm.
void fold_batchnorm(LayerGraph& g);

// Conv/Gemm/MatMul followed by Relu, Clip, LeakyRelu, Sigmoid, HardSigmoid or
// HardSwish, and Add/Sum followed by Relu or Clip, become one node with
// Node::act set; Node::fused records the source nodes.
void fuse_activations(LayerGraph& g);

// The import pipeline: remove_identities, [fold_batchnorm], [fuse_activations].
std::vector<Pass> import_passes(bool fold_batchnorm, bool fuse_activations);
void run_passes(LayerGraph& g, std::span<const Pass> passes);

}  // namespace qsim
