// PyTorch emitter: golden files in core/tests/golden/ (regenerate with DRT_UPDATE_GOLDEN=1) and
// naming properties. tests/core/test_emit_pytorch.py executes the emitted programs under torch.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "drtriton/emit.h"
#include "drtriton/ir_json.h"

namespace drtriton::emit {
namespace {

namespace fs = std::filesystem;

const fs::path kGoldenDir = fs::path(__FILE__).parent_path() / "golden";

void ExpectGolden(const std::string& name, const std::string& text) {
  const fs::path path = kGoldenDir / (name + ".py");
  if (std::getenv("DRT_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path) << text;
    return;
  }
  std::ifstream in(path);
  ASSERT_TRUE(in.good()) << "missing golden " << path << "; run with DRT_UPDATE_GOLDEN=1";
  std::stringstream want;
  want << in.rdbuf();
  EXPECT_EQ(text, want.str()) << "emitted text for " << name << " differs from " << path;
}

constexpr const char* kMlp = R"({"inputs": [{"shape": [8, 16]}],
  "nodes": [{"op": "linear", "inputs": [0], "attrs": {"out_features": 32, "bias": 1}},
            {"op": "gelu", "inputs": [1], "attrs": {"approximate": "tanh"}},
            {"op": "linear", "inputs": [2], "attrs": {"out_features": 32, "bias": 0}},
            {"op": "add", "inputs": [3, 1]},
            {"op": "layer_norm", "inputs": [4], "attrs": {"eps": 1e-5}}],
  "outputs": [5]})";

constexpr const char* kConvNet = R"({"inputs": [{"shape": [2, 3, 12, 10]}],
  "nodes": [{"op": "conv2d", "inputs": [0], "attrs": {"out_channels": 8, "kernel_size": 3, "stride": 1,
              "padding": 1, "groups": 1, "bias": 1}},
            {"op": "batch_norm", "inputs": [1], "attrs": {"eps": 1e-5}},
            {"op": "leaky_relu", "inputs": [2], "attrs": {"negative_slope": 0.2}},
            {"op": "max_pool2d", "inputs": [3], "attrs": {"kernel_size": 2, "stride": 2}},
            {"op": "flatten", "inputs": [4], "attrs": {"start_dim": 1}},
            {"op": "linear", "inputs": [5], "attrs": {"out_features": 16, "bias": 1}}],
  "outputs": [6]})";

constexpr const char* kTwoInputsFanout = R"({"inputs": [{"shape": [4, 6, 8]}, {"shape": [8, 5]}],
  "nodes": [{"op": "matmul", "inputs": [0, 1]},
            {"op": "softmax", "inputs": [2], "attrs": {"dim": 2}},
            {"op": "sigmoid", "inputs": [2]},
            {"op": "mul", "inputs": [3, 4]},
            {"op": "sum", "inputs": [5], "attrs": {"dim": 1, "keepdim": 0}},
            {"op": "mul_scalar", "inputs": [6], "attrs": {"other": 0.5}}],
  "outputs": [7, 3]})";

std::string Emit(const char* json, EmitOptions options = {}) {
  return EmitPyTorch(ir::FromJson(json), options);
}

TEST(EmitPyTorch, MlpMatchesGolden) { ExpectGolden("mlp_residual", Emit(kMlp)); }

TEST(EmitPyTorch, ConvNetMatchesGolden) { ExpectGolden("conv_bn_pool_linear", Emit(kConvNet)); }

TEST(EmitPyTorch, FanoutWithTwoOutputsMatchesGolden) {
  ExpectGolden("matmul_fanout", Emit(kTwoInputsFanout));
}

TEST(EmitPyTorch, RepeatedModulesGetNumberedNamesAndSharedInitArgs) {
  const std::string text = Emit(kMlp);
  EXPECT_NE(text.find("self.linear1 = nn.Linear(in_features, out_features, bias=True)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("self.linear2 = nn.Linear(out_features, out_features, bias=False)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("return [IN_FEATURES, OUT_FEATURES]"), std::string::npos) << text;
}

TEST(EmitPyTorch, InputRangesChooseTheDistribution) {
  constexpr const char* kLog =
      R"({"inputs": [{"shape": [3, 4]}], "nodes": [{"op": "log", "inputs": [0]}],
    "outputs": [1]})";
  EmitOptions options;
  options.input_ranges = {ops::Range::kPositive};
  EXPECT_NE(Emit(kLog, options).find("torch.rand(BATCH, FEATURES) + 0.1"), std::string::npos);
  EXPECT_NE(Emit(kLog).find("torch.randn(BATCH, FEATURES)"), std::string::npos);
}

TEST(EmitPyTorch, IsDeterministicAndRejectsInvalidGraphs) {
  EXPECT_EQ(Emit(kConvNet), Emit(kConvNet));
  ir::Graph g = ir::FromJson(kMlp);
  g.nodes[0].type.shape = {8, 31};
  EXPECT_THROW(EmitPyTorch(g), ShapeError);
}

}  // namespace
}  // namespace drtriton::emit
