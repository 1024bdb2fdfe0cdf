// Registry rows: names, attribute domains, shape rules (one case per rule), value ranges, cost.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>

#include "drtriton/ir.h"
#include "drtriton/ops.h"

namespace drtriton::ops {
namespace {

using ir::DType;
using ir::TensorType;

TensorType T(ir::Shape shape) {
  return TensorType{.shape = std::move(shape), .dtype = DType::kFloat32};
}

std::optional<TensorType> Infer1(OpId id, ir::Shape shape, std::vector<double> attrs) {
  std::vector<TensorType> in = {T(std::move(shape))};
  return InferOutput(id, in, attrs);
}

std::optional<TensorType> Infer2(OpId id, ir::Shape a, ir::Shape b, std::vector<double> attrs) {
  std::vector<TensorType> in = {T(std::move(a)), T(std::move(b))};
  return InferOutput(id, in, attrs);
}

TEST(OpsRegistry, HasAtLeastSeventyFiveOperatorsWithUniqueNames) {
  EXPECT_GE(kNumOps, 75);
  std::set<std::string_view> names;
  for (const OpSpec& row : Registry()) names.insert(row.name);
  EXPECT_EQ(names.size(), static_cast<size_t>(kNumOps));
}

TEST(OpsRegistry, FindOpRoundTripsEveryName) {
  for (const OpSpec& row : Registry()) {
    auto id = FindOp(row.name);
    ASSERT_TRUE(id.has_value()) << row.name;
    EXPECT_EQ(*id, row.id);
    EXPECT_EQ(&Spec(*id), &row);
  }
  EXPECT_FALSE(FindOp("no_such_op").has_value());
}

TEST(OpsRegistry, EveryTemplateNamesItsInputsAndAttrs) {
  for (const OpSpec& row : Registry()) {
    for (int i = 0; i < row.arity; ++i) {
      EXPECT_NE(row.torch.find("{" + std::to_string(i) + "}"), std::string_view::npos) << row.name;
    }
    for (const AttrSpec& a : row.attrs) {
      const std::string ph = "{" + std::string(a.name) + "}";
      const bool used = row.torch.find(ph) != std::string_view::npos ||
                        row.init.find(ph) != std::string_view::npos;
      EXPECT_TRUE(used) << row.name << " never spells attr " << a.name;
      EXPECT_FALSE(a.choices.empty()) << row.name << "." << a.name;
      if (a.kind == AttrKind::kEnum) EXPECT_EQ(a.choices.size(), a.enum_names.size()) << row.name;
    }
    if (!row.module.empty())
      EXPECT_NE(row.torch.find("{self}"), std::string_view::npos) << row.name;
  }
}

TEST(OpsRegistry, EveryOperatorAcceptsSomeTypicalInputWithDefaultChoices) {
  // Each op must be applicable to at least one of a few typical shapes with its first choices, so
  // the synthesizer can reach it.
  const std::vector<ir::Shape> shapes = {
      {8, 16}, {4, 8, 12}, {2, 8, 10, 12}, {2, 4, 6, 8, 10}, {4, 1, 16}};
  for (const OpSpec& row : Registry()) {
    std::vector<double> attrs;
    for (const AttrSpec& a : row.attrs) attrs.push_back(a.choices[0]);
    if (row.id == OpId::kTranspose) attrs = {0, 1};
    if (row.id == OpId::kSqueeze) attrs = {1};
    bool any = false;
    for (const auto& shape : shapes) {
      std::vector<TensorType> in(static_cast<size_t>(row.arity), T(shape));
      if (row.id == OpId::kMatmul || row.id == OpId::kBmm) in[1] = T({shape[0], shape.back(), 3});
      if (row.id == OpId::kMatmul) in[1] = T({shape.back(), 3});
      any = any || InferOutput(row.id, in, attrs).has_value();
    }
    EXPECT_TRUE(any) << row.name << " accepts none of the typical shapes";
  }
}

// Every op x every combination of attr choices (plus hostile values) x shapes of ranks 0..5: the
// rule never throws, and whatever it accepts has extents >= 1 and a finite, non-negative cost.
TEST(OpsShape, RulesAreTotalOverChoicesAndHostileValues) {
  const std::vector<ir::Shape> shapes = {
      {},        {5},          {1, 7},          {6, 4},       {2, 8, 9},
      {3, 1, 8}, {2, 4, 6, 6}, {2, 6, 5, 4, 3}, {1, 1, 1, 1}, {2, 3, 1, 4, 1}};
  const std::vector<double> hostile = {0, -1, 1e9, 7};
  size_t accepted = 0;
  for (const OpSpec& row : Registry()) {
    // Every combination of the choices, then each attr set to each hostile value in turn.
    std::vector<std::vector<double>> combos;
    std::vector<size_t> idx(row.attrs.size(), 0);
    for (bool done = false; !done;) {
      std::vector<double> attrs;
      for (size_t i = 0; i < idx.size(); ++i) attrs.push_back(row.attrs[i].choices[idx[i]]);
      combos.push_back(attrs);
      size_t i = 0;
      while (i < idx.size() && ++idx[i] == row.attrs[i].choices.size()) idx[i++] = 0;
      done = i == idx.size();
    }
    for (size_t i = 0; i < row.attrs.size(); ++i) {
      for (double h : hostile) {
        combos.push_back(combos.front());
        combos.back()[i] = h;
      }
    }
    for (const std::vector<double>& attrs : combos) {
      for (const auto& a : shapes) {
        for (const auto& b : row.arity == 2 ? shapes : std::vector<ir::Shape>{{}}) {
          std::vector<TensorType> in = {T(a)};
          if (row.arity == 2) in.push_back(T(b));
          std::optional<TensorType> out;
          ASSERT_NO_THROW(out = InferOutput(row.id, in, attrs)) << row.name;
          if (!out) continue;
          ++accepted;
          for (int64_t d : out->shape) ASSERT_GE(d, 1) << row.name;
          const Cost c = EstimateCost(row.id, in, attrs, *out);
          ASSERT_TRUE(std::isfinite(c.flops) && c.flops >= 0 && c.bytes > 0) << row.name;
        }
      }
    }
  }
  EXPECT_GT(accepted, 3000u);  // the rules accept plenty, not only reject
}

TEST(OpsShape, UnaryKeepsShape) {
  auto out = Infer1(OpId::kGelu, {3, 5}, {0});
  ASSERT_TRUE(out);
  EXPECT_EQ(out->shape, (ir::Shape{3, 5}));
  EXPECT_FALSE(Infer1(OpId::kGelu, {3, 5}, {2}).has_value());  // enum index out of range
  EXPECT_FALSE(Infer1(OpId::kRelu, {3, 0}, {}).has_value());   // empty extent
}

TEST(OpsShape, BinaryBroadcasts) {
  EXPECT_EQ(Infer2(OpId::kAdd, {4, 1, 5}, {3, 1}, {})->shape, (ir::Shape{4, 3, 5}));
  EXPECT_FALSE(Infer2(OpId::kMul, {4, 2}, {3}, {}).has_value());
}

TEST(OpsShape, ReductionRemovesOrKeepsAxisAndChecksIt) {
  EXPECT_EQ(Infer1(OpId::kSum, {4, 6, 8}, {1, 0})->shape, (ir::Shape{4, 8}));
  EXPECT_EQ(Infer1(OpId::kMean, {4, 6, 8}, {2, 1})->shape, (ir::Shape{4, 6, 1}));
  EXPECT_FALSE(Infer1(OpId::kSum, {4, 6}, {2, 0}).has_value());
  auto arg = Infer1(OpId::kArgmax, {4, 6}, {1, 0});
  ASSERT_TRUE(arg);
  EXPECT_EQ(arg->dtype, DType::kInt64);
  EXPECT_FALSE(Infer1(OpId::kVar, {4, 1}, {1, 0}).has_value());  // unbiased var of 1 element is NaN
  std::vector<TensorType> ints = {TensorType{.shape = {4}, .dtype = DType::kInt64}};
  std::vector<double> none;
  EXPECT_FALSE(InferOutput(OpId::kRelu, ints, none).has_value());
}

TEST(OpsShape, LinearAndMatmulFamilies) {
  EXPECT_EQ(Infer1(OpId::kLinear, {8, 16}, {32, 1})->shape, (ir::Shape{8, 32}));
  EXPECT_FALSE(Infer1(OpId::kLinear, {16}, {32, 1}).has_value());
  EXPECT_EQ(Infer2(OpId::kMatmul, {2, 8, 16}, {16, 4}, {})->shape, (ir::Shape{2, 8, 4}));
  EXPECT_FALSE(Infer2(OpId::kMatmul, {8, 16}, {15, 4}, {}).has_value());
  EXPECT_EQ(Infer2(OpId::kBmm, {3, 8, 16}, {3, 16, 4}, {})->shape, (ir::Shape{3, 8, 4}));
  EXPECT_FALSE(Infer2(OpId::kBmm, {3, 8, 16}, {2, 16, 4}, {}).has_value());
}

TEST(OpsShape, ConvolutionExtentsAndGroups) {
  // out_channels, kernel_size, stride, padding, groups, bias
  EXPECT_EQ(Infer1(OpId::kConv2d, {2, 4, 10, 12}, {8, 3, 1, 0, 1, 1})->shape,
            (ir::Shape{2, 8, 8, 10}));
  EXPECT_EQ(Infer1(OpId::kConv1d, {2, 4, 10}, {8, 3, 2, 1, 2, 0})->shape, (ir::Shape{2, 8, 5}));
  EXPECT_FALSE(Infer1(OpId::kConv2d, {2, 3, 10, 12}, {8, 3, 1, 0, 2, 1}).has_value());  // 3 % 2
  EXPECT_FALSE(Infer1(OpId::kConv2d, {2, 4, 2, 12}, {8, 5, 1, 0, 1, 1}).has_value());   // 2 < 5
  EXPECT_FALSE(Infer1(OpId::kConv3d, {2, 4, 10, 12}, {8, 3, 1, 0, 1, 1}).has_value());  // rank
  // ... output_padding, groups, bias: (L-1)*s - 2p + k + op
  EXPECT_EQ(Infer1(OpId::kConvTranspose2d, {2, 4, 5, 6}, {8, 3, 2, 1, 1, 1, 1})->shape,
            (ir::Shape{2, 8, 10, 12}));
  EXPECT_FALSE(
      Infer1(OpId::kConvTranspose1d, {2, 4, 5}, {8, 3, 1, 0, 1, 1, 1}).has_value());  // op >= s
}

TEST(OpsShape, PoolingAndNorms) {
  EXPECT_EQ(Infer1(OpId::kMaxPool2d, {2, 4, 9, 8}, {3, 2})->shape, (ir::Shape{2, 4, 4, 3}));
  EXPECT_FALSE(Infer1(OpId::kAvgPool1d, {2, 4, 2}, {3, 1}).has_value());
  EXPECT_EQ(Infer1(OpId::kAdaptiveAvgPool2d, {2, 4, 9, 8}, {1})->shape, (ir::Shape{2, 4, 1, 1}));
  EXPECT_TRUE(Infer1(OpId::kGroupNorm, {2, 8, 5}, {4, 1e-5}).has_value());
  EXPECT_FALSE(Infer1(OpId::kGroupNorm, {2, 6, 5}, {4, 1e-5}).has_value());
  EXPECT_FALSE(Infer1(OpId::kInstanceNorm, {2, 6, 1}, {1e-5}).has_value());
  EXPECT_FALSE(Infer1(OpId::kBatchNorm, {6}, {1e-5}).has_value());
  EXPECT_FALSE(Infer1(OpId::kSoftmax, {2, 6}, {2}).has_value());
}

TEST(OpsShape, LayoutOps) {
  EXPECT_EQ(Infer1(OpId::kFlatten, {2, 3, 4, 5}, {1})->shape, (ir::Shape{2, 60}));
  EXPECT_EQ(Infer1(OpId::kUnflatten, {2, 12}, {1, 4})->shape, (ir::Shape{2, 4, 3}));
  EXPECT_FALSE(Infer1(OpId::kUnflatten, {2, 10}, {1, 4}).has_value());
  EXPECT_EQ(Infer1(OpId::kTranspose, {2, 3, 4}, {0, 2})->shape, (ir::Shape{4, 3, 2}));
  EXPECT_FALSE(Infer1(OpId::kTranspose, {2, 3, 4}, {2, 0}).has_value());
  EXPECT_EQ(Infer1(OpId::kUnsqueeze, {2, 3}, {2})->shape, (ir::Shape{2, 3, 1}));
  EXPECT_EQ(Infer1(OpId::kSqueeze, {2, 1, 3}, {1})->shape, (ir::Shape{2, 3}));
  EXPECT_FALSE(Infer1(OpId::kSqueeze, {2, 2, 3}, {1}).has_value());
  EXPECT_EQ(Infer2(OpId::kConcat, {2, 3}, {2, 5}, {1})->shape, (ir::Shape{2, 8}));
  EXPECT_FALSE(Infer2(OpId::kConcat, {2, 3}, {3, 5}, {1}).has_value());
}

TEST(OpsShape, LossesGiveScalars) {
  EXPECT_EQ(Infer2(OpId::kMseLoss, {4, 5}, {4, 5}, {})->shape, (ir::Shape{}));
  EXPECT_FALSE(Infer2(OpId::kMseLoss, {4, 5}, {5}, {}).has_value());
  EXPECT_EQ(Infer2(OpId::kCosineSimilarity, {4, 5}, {1, 5}, {1})->shape, (ir::Shape{4}));
}

TEST(OpsShape, ExplainedFailureNamesTheValues) {
  std::string why;
  std::vector<TensorType> in = {T({2, 6, 5})};
  std::vector<double> attrs = {4, 1e-5};
  EXPECT_FALSE(InferOutputExplained(OpId::kGroupNorm, in, attrs, &why));
  EXPECT_NE(why.find("6"), std::string::npos) << why;
  EXPECT_NE(why.find("num_groups=4"), std::string::npos) << why;
}

TEST(OpsRange, DomainsGuardNanProducingOps) {
  std::vector<double> none;
  EXPECT_EQ(InputDomain(OpId::kLog, 0, none), Range::kPositive);
  EXPECT_EQ(InputDomain(OpId::kDiv, 1, none), Range::kPositive);
  EXPECT_EQ(InputDomain(OpId::kDiv, 0, none), Range::kAny);
  std::vector<double> half = {0.5}, two = {2.0};
  EXPECT_EQ(InputDomain(OpId::kPowScalar, 0, half), Range::kNonNeg);
  EXPECT_EQ(InputDomain(OpId::kPowScalar, 0, two), Range::kAny);
}

TEST(OpsRange, OutputClassesFollowTheLattice) {
  std::vector<double> none;
  std::vector<Range> any = {Range::kAny}, unit = {Range::kUnit};
  EXPECT_EQ(OutputRange(OpId::kExp, any, none), Range::kPositive);
  EXPECT_EQ(OutputRange(OpId::kSigmoid, any, none), Range::kUnit);
  EXPECT_EQ(OutputRange(OpId::kRelu, any, none), Range::kNonNeg);
  EXPECT_EQ(OutputRange(OpId::kSum, unit, std::vector<double>{1, 0}), Range::kPositive);
  std::vector<Range> any_pos = {Range::kAny, Range::kPositive};
  EXPECT_EQ(OutputRange(OpId::kMaximum, any_pos, none), Range::kPositive);
  EXPECT_EQ(OutputRange(OpId::kAdd, any_pos, none), Range::kAny);
  std::vector<Range> nn_pos = {Range::kNonNeg, Range::kPositive};
  EXPECT_EQ(OutputRange(OpId::kAdd, nn_pos, none), Range::kNonNeg);
  EXPECT_EQ(
      OutputRange(OpId::kAddScalar, std::vector<Range>{Range::kNonNeg}, std::vector<double>{0.5}),
      Range::kPositive);
  EXPECT_EQ(OutputRange(OpId::kClamp, any, std::vector<double>{0.0, 6.0}), Range::kNonNeg);
  EXPECT_TRUE(Within(Range::kUnit, Range::kNonNeg));
  EXPECT_FALSE(Within(Range::kNonNeg, Range::kPositive));
}

TEST(OpsCost, MatmulAndConvFlops) {
  std::vector<TensorType> in = {T({8, 16})};
  std::vector<double> attrs = {32, 0};
  auto out = InferOutput(OpId::kLinear, in, attrs);
  Cost cost = EstimateCost(OpId::kLinear, in, attrs, *out);
  EXPECT_DOUBLE_EQ(cost.flops, 2.0 * 8 * 16 * 32);
  EXPECT_DOUBLE_EQ(cost.bytes, 4.0 * (8 * 16 + 8 * 32 + 16 * 32));
  std::vector<TensorType> img = {T({1, 2, 6, 6})};
  std::vector<double> conv = {4, 3, 1, 0, 1, 0};
  auto out2 = InferOutput(OpId::kConv2d, img, conv);
  EXPECT_DOUBLE_EQ(EstimateCost(OpId::kConv2d, img, conv, *out2).flops, 2.0 * (4 * 4 * 4) * 2 * 9);
}

TEST(OpsRegistry, DerivedSetsPartitionTheOperators) {
  size_t total = 0;
  for (int l = 0; l <= static_cast<int>(Lowering::kScan); ++l)
    total += OpsWithLowering(static_cast<Lowering>(l)).size();
  EXPECT_EQ(total, static_cast<size_t>(kNumOps));
  for (OpId id : OpsWithLowering(Lowering::kMatmul)) EXPECT_TRUE(Spec(id).heavy);
}

}  // namespace
}  // namespace drtriton::ops
