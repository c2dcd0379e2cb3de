// Sub-graphs of a LayerGraph: a set of nodes run on their own, fed with values the
// rest of the graph computed (the prefix caches of quant/prefix_cache.h run the part
// of a model after a cut, and one layer group on its own, this way).
//
// A cut at topological position p splits g into the nodes before p and the nodes
// from p on; the values that cross it (live_values) are what the second part needs
// from the first.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "graph/layer_graph.h"

namespace qsim {

// Non-constant values produced before topological position `position` (or graph
// inputs) that a node at or after it reads, or that are graph outputs; ascending ids.
// position 0: the graph inputs that are read at all.
std::vector<ValueId> live_values(const LayerGraph& g, std::size_t position);

// A graph holding copies of `nodes` of `g` (any order; kept in g's topological order,
// so compute_layers() keeps g's order) and the constants they read. Its inputs are the
// non-constant values the nodes read and none of them produces (ascending ids of g);
// its outputs are `outputs` (each must be produced by one of the nodes or be one of
// the inputs). Node and value names are g's, so a QuantSpec or a PrecisionAlloc that
// names them applies; ids are renumbered (look values up by name).
LayerGraph extract_subgraph(const LayerGraph& g, std::span<const NodeId> nodes, std::span<const ValueId> outputs);

// Position of each node in g.topo_order(), indexed by NodeId.
std::vector<std::size_t> topo_positions(const LayerGraph& g);

}  // namespace qsim
