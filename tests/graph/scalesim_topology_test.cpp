#include "graph/scalesim_topology.h"

#include <gtest/gtest.h>

#include "graph/error.h"

namespace qsim {
namespace {

TEST(ScaleSimTopology, ConvFormMatchesScaleSimGeometry) {
  const std::string text =
      "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
      "\n"
      "Conv1, 224, 224, 7, 7, 3, 64, 2,\n"
      "FC,1,1,1,1,512,1000,1,\n";
  LayerGraph g = import_scalesim_topology_text(text, "r.csv");
  ASSERT_EQ(g.compute_layers().size(), 2u);
  const auto s = g.stats(g.compute_layers()[0]);
  EXPECT_EQ(s.gemm.M, 110 * 110);  // ceil((224 - 7 + 2) / 2) = 110, as in SCALE-Sim
  EXPECT_EQ(s.gemm.N, 64);
  EXPECT_EQ(s.gemm.K, 7 * 7 * 3);
  const auto fc = g.stats(g.compute_layers()[1]);
  EXPECT_EQ(fc.gemm.M, 1);
  EXPECT_EQ(fc.gemm.K, 512);
  EXPECT_EQ(g.node(g.compute_layers()[1]).name, "FC");
}

TEST(ScaleSimTopology, GemmFormIsDetectedFromHeader) {
  LayerGraph g = import_scalesim_topology_text("Layer,M,N,K,\nG10x6x7,10,6,7,\n", "g.csv");
  const auto s = g.stats(g.compute_layers()[0]);
  EXPECT_EQ(s.gemm.M, 10);
  EXPECT_EQ(s.gemm.N, 6);
  EXPECT_EQ(s.gemm.K, 7);
}

TEST(ScaleSimTopology, DepthwiseLayersRepeatPerChannel) {
  LayerGraph g = import_scalesim_topology_text(
      "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
      "Conv_DP1,10,10,3,3,32,1,1,\n",
      "dw.csv");
  const auto s = g.stats(g.compute_layers()[0]);
  EXPECT_EQ(s.gemm.repeats, 32);
  EXPECT_EQ(s.gemm.M, 64);
  EXPECT_EQ(s.gemm.N, 1);
  EXPECT_EQ(s.gemm.K, 9);
}

// A ninth column is SCALE-Sim v2's column stride, unless its header says it is
// SCALE-Sim v3's sparsity ratio: then it is read as N:M (dense runs, sparse is
// refused) and a plain number there is refused, never read as a stride.
TEST(ScaleSimTopology, NinthColumnIsAStrideUnlessHeadedSparsity) {
  const std::string head =
      "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides, ";
  LayerGraph g = import_scalesim_topology_text(head + "Col stride,\nConv1,9,9,3,3,3,4,1,2,\n", "v2.csv");
  EXPECT_EQ(g.stats(g.compute_layers()[0]).gemm.M, 7 * 4);  // rows at stride 1, columns at 2
  for (const char* name : {"Sparsity", "sparsity ratio", "Sparsity (N:M)"}) {
    try {
      import_scalesim_topology_text(head + name + ",\nConv1,9,9,3,3,3,4,1,2,\n", "v3.csv");
      ADD_FAILURE() << name << " was read as a stride";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind("v3.csv:2: layer 'Conv1': Sparsity '2' is not N:M", 0), 0u) << e.what();
    }
  }
}

TEST(ScaleSimTopology, ErrorsNameFileAndLine) {
  const std::string hdr =
      "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {hdr + "L1,8,8,3,3,2\n", "t.csv:2: expected 8 fields"},
      {hdr + "L1,8,8,3,3,2,x,1,\n", "t.csv:2: Num Filter 'x' is not an integer"},
      {hdr + "L1,8,8,3,3,0,4,1,\n", "t.csv:2: Channels must be positive"},
      {hdr + "L1,2,8,3,3,2,4,1,\n", "t.csv:2: Filter Height 3 is larger than IFMAP Height 2"},
      {hdr + "L1,8,8,3,3,2,4,1,\nL1,8,8,3,3,2,4,1,\n", "t.csv:3: layer name 'L1' appears twice"},
      {hdr, "t.csv: no layers"},
      {"", "t.csv: empty topology file"},
  };
  for (const auto& [text, msg] : cases) {
    try {
      import_scalesim_topology_text(text, "t.csv");
      ADD_FAILURE() << "accepted: " << text;
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind(msg, 0), 0u) << e.what();
    }
  }
}

}  // namespace
}  // namespace qsim
