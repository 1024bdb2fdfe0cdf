// JSON form: round trip, type inference, and one-line errors naming the node.
#include "drtriton/ir_json.h"

#include <gtest/gtest.h>

#include <cmath>

#include "drtriton/ir.h"

namespace drtriton::ir {
namespace {

constexpr const char* kMlp = R"({"inputs": [{"shape": [8, 16], "dtype": "float32"}],
  "nodes": [{"op": "linear", "inputs": [0], "attrs": {"out_features": 32, "bias": 1}},
            {"op": "gelu", "inputs": [1], "attrs": {"approximate": "tanh"}},
            {"op": "add", "inputs": [2, 1]}],
  "outputs": [3]})";

std::string ErrorOf(const std::string& text) {
  try {
    FromJson(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(IrJson, ParsesInfersTypesAndRoundTrips) {
  const Graph g = FromJson(kMlp);
  ASSERT_EQ(g.nodes.size(), 3u);
  EXPECT_EQ(g.nodes[0].type.shape, (Shape{8, 32}));
  EXPECT_EQ(g.nodes[1].attrs, (std::vector<double>{1}));  // enum by name -> index
  const Graph back = FromJson(ToJson(g));
  EXPECT_EQ(back, g);
  EXPECT_EQ(FromJson(ToJson(g, 2)), g);
}

TEST(IrJson, InfiniteFloatAttrsRoundTrip) {
  // Python's json.dumps spells float('-inf') as -Infinity; clamp(x, max=1) has min=-inf.
  const Graph g = FromJson(R"({"inputs": [{"shape": [3]}], "nodes": [{"op": "clamp", "inputs": [0],
    "attrs": {"min": -Infinity, "max": 1.0}}], "outputs": [1]})");
  EXPECT_TRUE(std::isinf(g.nodes[0].attrs[0]) && g.nodes[0].attrs[0] < 0);
  EXPECT_NE(ToJson(g).find("\"-inf\""), std::string::npos);
  EXPECT_EQ(FromJson(ToJson(g)), g);
  EXPECT_THROW(FromJson(R"({"inputs": [{"shape": [3]}], "nodes": [{"op": "clamp", "inputs": [0],
    "attrs": {"min": NaN, "max": 1.0}}], "outputs": [1]})"), ValueError);
}

TEST(IrJson, ShapeErrorNamesTheNodeAndTheRule) {
  const std::string bad = R"({"inputs": [{"shape": [2, 6, 5]}],
    "nodes": [{"op": "group_norm", "inputs": [0], "attrs": {"num_groups": 4, "eps": 1e-5}}], "outputs": [1]})";
  EXPECT_THROW(FromJson(bad), ShapeError);
  const std::string msg = ErrorOf(bad);
  EXPECT_NE(msg.find("node 0 (group_norm)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("num_groups=4"), std::string::npos) << msg;
}

TEST(IrJson, ValueErrorsSayWhatToDo) {
  EXPECT_NE(ErrorOf(R"({"inputs": [{"shape": [2]}], "nodes": [{"op": "frobnicate", "inputs": [0]}],
                        "outputs": [1]})")
                .find("unknown op \"frobnicate\""),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"inputs": [{"shape": [2, 3]}], "nodes": [{"op": "linear", "inputs": [0],
                        "attrs": {"out_features": 4}}], "outputs": [1]})")
                .find("missing attr \"bias\""),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"inputs": [{"shape": [2]}], "nodes": [{"op": "relu", "inputs": [1]}],
                        "outputs": [1]})")
                .find("reads value 1"),
            std::string::npos);
  EXPECT_NE(ErrorOf("{not json").find("does not parse"), std::string::npos);
  EXPECT_NE(
      ErrorOf(R"({"inputs": [{"shape": [2], "dtype": "float64"}], "nodes": [], "outputs": [0]})")
          .find("float64"),
      std::string::npos);
  EXPECT_THROW(FromJson(R"({"inputs": [{"shape": [2]}], "nodes": [], "outputs": [5]})"),
               ValueError);
}

}  // namespace
}  // namespace drtriton::ir
