// Fusion planner and Triton emitter: what fuses, what is stored, what each policy refuses.
#include <gtest/gtest.h>

#include <string>

#include "drtriton/emit_triton.h"
#include "drtriton/error.h"
#include "drtriton/ir_json.h"

namespace drtriton::emit {
namespace {

TritonOptions LinearOptions() {
  TritonOptions opt;
  opt.params = {{{"module", "self.fc"}, {"weight", "self.fc.weight"}, {"bias", "self.fc.bias"}}, {}, {}};
  return opt;
}

constexpr const char* kLinearReluSum =
    R"({"inputs": [{"shape": [8, 16], "dtype": "float32"}],
        "nodes": [{"op": "linear", "inputs": [0], "attrs": {"out_features": 32, "bias": 1}},
                  {"op": "relu", "inputs": [1], "attrs": {}},
                  {"op": "sum", "inputs": [2], "attrs": {"dim": 1, "keepdim": 0}}],
        "outputs": [3]})";

TEST(EmitTriton, FusesReluIntoTheReductionPrologueWithA3xTf32Dot) {
  const std::string src = EmitTriton(ir::FromJson(kLinearReluSum), LinearOptions());
  EXPECT_NE(src.find("tl.dot(a, b, input_precision=\"tf32x3\")"), std::string::npos);
  EXPECT_NE(src.find("def k0_linear("), std::string::npos);
  EXPECT_NE(src.find("def k1_relu_sum("), std::string::npos);
  EXPECT_NE(src.find("self.fc.weight"), std::string::npos);
}

TEST(EmitTriton, DotPrecisionKnobs) {
  TritonOptions opt = LinearOptions();
  opt.knobs.exact_dot = true;
  EXPECT_NE(EmitTriton(ir::FromJson(kLinearReluSum), opt).find("input_precision=\"ieee\""), std::string::npos);
  opt.knobs.allow_tf32 = true;  // TF32 wins over exact_dot: it is the looser, explicit request
  EXPECT_NE(EmitTriton(ir::FromJson(kLinearReluSum), opt).find("input_precision=\"tf32\""), std::string::npos);
}

TEST(EmitTriton, FusionSplitMovesTheKernelBoundary) {
  TritonOptions opt = LinearOptions();
  opt.knobs.split = {2};
  const std::string src = EmitTriton(ir::FromJson(kLinearReluSum), opt);
  EXPECT_NE(src.find("def k0_linear_relu("), std::string::npos);  // relu stored: it becomes the epilogue
  EXPECT_NE(src.find("def k1_sum("), std::string::npos);
}

TEST(EmitTriton, DumpAfterClassifyNamesEachNodeClass) {
  TritonOptions opt = LinearOptions();
  opt.dump_after = "classify";
  const std::string dump = EmitTriton(ir::FromJson(kLinearReluSum), opt);
  EXPECT_NE(dump.find("linear(v0) matmul"), std::string::npos);
  EXPECT_NE(dump.find("relu(v1) pointwise"), std::string::npos);
}

TEST(EmitTriton, APoolFeedingATlDotOperandGetsItsOwnKernel) {
  // inlined into the operand it was recomputed per N tile and overflowed shared memory (KernelBench L3 19)
  const std::string graph =
      R"({"inputs": [{"shape": [2, 16, 7, 7], "dtype": "float32"}],
          "nodes": [{"op": "relu", "inputs": [0], "attrs": {}},
                    {"op": "avg_pool2d", "inputs": [1], "attrs": {"kernel_size": 7, "stride": 7}},
                    {"op": "flatten", "inputs": [2], "attrs": {"start_dim": 1}},
                    {"op": "linear", "inputs": [3], "attrs": {"out_features": 8, "bias": 1}}],
          "outputs": [4]})";
  TritonOptions opt;
  opt.params = {{}, {}, {}, {{"module", "self.fc"}, {"weight", "self.fc.weight"}, {"bias", "self.fc.bias"}}};
  const std::string src = EmitTriton(ir::FromJson(graph), opt);
  EXPECT_NE(src.find("def k0_relu_avg_pool2d("), std::string::npos) << src;
  EXPECT_NE(src.find("def k1_flatten_linear("), std::string::npos) << src;
}

TEST(EmitTriton, MissingParameterBindingIsAValueError) {
  EXPECT_THROW(EmitTriton(ir::FromJson(kLinearReluSum), TritonOptions{}), ValueError);
}

TEST(EmitTriton, StrictPolicyRefusesConvolutionAndMixedMakesItALibraryCall) {
  const ir::Graph g = ir::FromJson(
      R"({"inputs": [{"shape": [2, 3, 8, 8], "dtype": "float32"}],
          "nodes": [{"op": "conv2d", "inputs": [0], "attrs": {"out_channels": 8, "kernel_size": 3,
                     "stride": 1, "padding": 1, "groups": 1, "bias": 1}},
                    {"op": "relu", "inputs": [1], "attrs": {}}],
          "outputs": [2]})");
  TritonOptions opt;
  opt.params = {{{"module", "self.conv"}, {"weight", "self.conv.weight"}, {"bias", "self.conv.bias"}}, {}};
  opt.policy = Policy::kStrict;
  EXPECT_THROW(EmitTriton(g, opt), ValueError);
  opt.policy = Policy::kMixed;
  const std::string src = EmitTriton(g, opt);
  EXPECT_NE(src.find("# PyTorch library calls: conv2d"), std::string::npos);
  // By default the convolution runs channels-last, its bias added by the ReLU kernel that reads it, and
  // that pointwise kernel walks and stores in the same channels-last order.
  EXPECT_NE(src.find("F.conv2d(_channels_last(v0), self.conv.weight, None,"),
            std::string::npos);
  EXPECT_NE(src.find("tl.load(p_self_conv_bias + "), std::string::npos);
  EXPECT_NE(src.find("memory_format=torch.channels_last)\n"), std::string::npos);
  EXPECT_EQ(src.find("self.conv(v0)"), std::string::npos);
  opt.knobs.conv_channels_last = false;
  const std::string plain = EmitTriton(g, opt);
  EXPECT_NE(plain.find("self.conv(v0)"), std::string::npos);
  EXPECT_EQ(plain.find("channels_last"), std::string::npos);
}

TEST(EmitTriton, ChannelsLastConvKeepsItsBiasWhenTheOutputIsReturned) {
  // The convolution's output is a graph output as well as read by a kernel: the host sees it, so the
  // bias stays in the library call and no reader adds it again.
  const ir::Graph g = ir::FromJson(
      R"({"inputs": [{"shape": [2, 3, 8, 8, 8], "dtype": "float32"}],
          "nodes": [{"op": "conv3d", "inputs": [0], "attrs": {"out_channels": 4, "kernel_size": 3,
                     "stride": 1, "padding": 1, "groups": 1, "bias": 1}},
                    {"op": "relu", "inputs": [1], "attrs": {}}],
          "outputs": [1, 2]})");
  TritonOptions opt;
  opt.params = {{{"module", "self.conv"}, {"weight", "self.conv.weight"}, {"bias", "self.conv.bias"}}, {}};
  const std::string src = EmitTriton(g, opt);
  EXPECT_NE(src.find("F.conv3d(_channels_last(v0), self.conv.weight, self.conv.bias,"), std::string::npos);
  EXPECT_EQ(src.find("p_self_conv_bias"), std::string::npos);
}

TEST(EmitTriton, InFullFp32OnlyGroupedAndStrideOneGroupedTransposedConvolutionsRunChannelsLast) {
  // H100 fp32 measurements (IsLayoutConv): channels-last pays for grouped convolutions and loses for
  // ungrouped ones and for stride-2 grouped transposed ones. With TF32 (the default) every one does.
  auto emit = [](const std::string& op, int groups, int stride, bool tf32 = false) {
    const ir::Graph g = ir::FromJson(
        R"({"inputs": [{"shape": [2, 4, 8, 8], "dtype": "float32"}],
            "nodes": [{"op": ")" + op + R"(", "inputs": [0], "attrs": {"out_channels": 8, "kernel_size": 3,
                       "stride": )" + std::to_string(stride) + R"(, "padding": 1, "groups": )" + std::to_string(groups) +
        R"(, "bias": 1)" + (op == "conv2d" ? "" : R"(, "output_padding": 0)") + R"(}},
                      {"op": "relu", "inputs": [1], "attrs": {}}],
            "outputs": [2]})");
    TritonOptions opt;
    opt.params = {{{"module", "self.conv"}, {"weight", "self.conv.weight"}, {"bias", "self.conv.bias"}}, {}};
    opt.knobs.conv_tf32 = tf32;
    return EmitTriton(g, opt);
  };
  EXPECT_NE(emit("conv2d", 2, 2).find("_channels_last(v0)"), std::string::npos);
  EXPECT_EQ(emit("conv2d", 1, 1).find("_channels_last(v0)"), std::string::npos);
  EXPECT_NE(emit("conv_transpose2d", 2, 1).find("_channels_last(v0)"), std::string::npos);
  EXPECT_EQ(emit("conv_transpose2d", 2, 2).find("_channels_last(v0)"), std::string::npos);
  EXPECT_EQ(emit("conv_transpose2d", 1, 1).find("_channels_last(v0)"), std::string::npos);
  EXPECT_NE(emit("conv2d", 1, 1, true).find("_channels_last(v0)"), std::string::npos);
  EXPECT_NE(emit("conv_transpose2d", 2, 2, true).find("_channels_last(v0)"), std::string::npos);
}

TEST(EmitTriton, UnknownPolicyNameIsAValueError) { EXPECT_THROW(ParsePolicy("fast"), ValueError); }

}  // namespace
}  // namespace drtriton::emit
