// Value-range rules of the registry (ops::InputDomain, ops::OutputRange) and the names used in
// tables. The lattice is a chain, kAny ⊇ kNonNeg ⊇ kPositive ⊇ kUnit, so "weaker" is the smaller
// enumerator.
#include <algorithm>
#include <cmath>

#include "drtriton/ops.h"

namespace drtriton::ops {
namespace {

Range Weaker(Range a, Range b) { return std::min(a, b); }
Range Stronger(Range a, Range b) { return std::max(a, b); }
Range WidenUnit(Range r) { return r == Range::kUnit ? Range::kPositive : r; }

bool IsEvenInteger(double p) { return std::floor(p) == p && std::fmod(p, 2.0) == 0; }
bool IsInteger(double p) { return std::floor(p) == p; }

Range ScalarAdd(Range x, double c) {
  if (c == 0) return x;
  if (c > 0) return x == Range::kAny ? Range::kAny : Range::kPositive;
  return Range::kAny;
}

Range ScalarMul(Range x, double c) {
  if (c == 0) return Range::kNonNeg;
  if (c > 0) return WidenUnit(x);
  return Range::kAny;
}

}  // namespace

Range InputDomain(OpId id, int arg, std::span<const double> attrs) {
  const OpSpec& spec = Spec(id);
  if (arg < 0 || arg >= spec.arity) return Range::kAny;
  Range domain = spec.domain[static_cast<size_t>(arg)];
  // A fractional power of a negative number is NaN; negative integer powers of 0 are Inf.
  if (spec.range == RangeRule::kPow && !attrs.empty()) {
    const double p = attrs[0];
    if (!IsInteger(p)) domain = Stronger(domain, Range::kNonNeg);
    if (p < 0) domain = Stronger(domain, Range::kPositive);
  }
  return domain;
}

Range OutputRange(OpId id, std::span<const Range> inputs, std::span<const double> attrs) {
  const OpSpec& spec = Spec(id);
  const Range x = inputs.empty() ? Range::kAny : inputs[0];
  const Range y = inputs.size() > 1 ? inputs[1] : x;
  const double a0 = attrs.empty() ? 0 : attrs[0];
  switch (spec.range) {
    case RangeRule::kAny:
      return Range::kAny;
    case RangeRule::kNonNeg:
      return Range::kNonNeg;
    case RangeRule::kPositive:
      return Range::kPositive;
    case RangeRule::kUnit:
      return Range::kUnit;
    case RangeRule::kSame:
      return x;
    case RangeRule::kSameSign:
      return WidenUnit(x);
    case RangeRule::kShrink:
      return x == Range::kAny ? Range::kAny : Range::kNonNeg;
    case RangeRule::kSquare:
      return x == Range::kAny ? Range::kNonNeg : x;
    case RangeRule::kAddLike:
      return WidenUnit(Weaker(x, y));
    case RangeRule::kMulLike:
      return Weaker(x, y);
    case RangeRule::kMaximum: {
      const Range s = Stronger(x, y);
      return (s == Range::kUnit && Weaker(x, y) != Range::kUnit) ? Range::kPositive : s;
    }
    case RangeRule::kWeaker:
      return Weaker(x, y);
    case RangeRule::kClamp:
      if (a0 > 0) return Range::kPositive;
      if (a0 == 0) return Stronger(x, Range::kNonNeg);
      return x;
    case RangeRule::kScalarAdd:
      return ScalarAdd(x, a0);
    case RangeRule::kScalarSub:
      return ScalarAdd(x, -a0);
    case RangeRule::kScalarMul:
      return ScalarMul(x, a0);
    case RangeRule::kScalarDiv:
      return ScalarMul(x, a0 == 0 ? 0 : 1 / a0);
    case RangeRule::kPow:
      if (IsEvenInteger(a0)) return x == Range::kAny ? Range::kNonNeg : x;
      return x;
  }
  return Range::kAny;
}

std::string_view LoweringName(Lowering lowering) {
  switch (lowering) {
    case Lowering::kElementwise:
      return "elementwise";
    case Lowering::kReduction:
      return "reduction";
    case Lowering::kNormalization:
      return "normalization";
    case Lowering::kMatmul:
      return "matmul";
    case Lowering::kConvolution:
      return "convolution";
    case Lowering::kPooling:
      return "pooling";
    case Lowering::kLayout:
      return "layout";
    case Lowering::kScan:
      return "scan";
  }
  return "?";
}

std::string_view ShapeRuleName(ShapeRule rule) {
  switch (rule) {
    case ShapeRule::kSameAsInput:
      return "same";
    case ShapeRule::kSameAlongAxis:
      return "same_along_axis";
    case ShapeRule::kSpatialStats:
      return "spatial_stats";
    case ShapeRule::kGroupNorm:
      return "group_norm";
    case ShapeRule::kBroadcast:
      return "broadcast";
    case ShapeRule::kReduceAxis:
      return "reduce_axis";
    case ShapeRule::kLoss:
      return "loss";
    case ShapeRule::kBroadcastReduce:
      return "broadcast_reduce";
    case ShapeRule::kLinear:
      return "linear";
    case ShapeRule::kMatmul:
      return "matmul";
    case ShapeRule::kBmm:
      return "bmm";
    case ShapeRule::kConv:
      return "conv";
    case ShapeRule::kConvTranspose:
      return "conv_transpose";
    case ShapeRule::kPool:
      return "pool";
    case ShapeRule::kAdaptivePool:
      return "adaptive_pool";
    case ShapeRule::kFlatten:
      return "flatten";
    case ShapeRule::kUnflatten:
      return "unflatten";
    case ShapeRule::kTranspose:
      return "transpose";
    case ShapeRule::kUnsqueeze:
      return "unsqueeze";
    case ShapeRule::kSqueeze:
      return "squeeze";
    case ShapeRule::kConcat:
      return "concat";
  }
  return "?";
}

std::string_view RangeName(Range range) {
  switch (range) {
    case Range::kAny:
      return "any";
    case Range::kNonNeg:
      return "non_neg";
    case Range::kPositive:
      return "positive";
    case Range::kUnit:
      return "unit";
  }
  return "?";
}

std::string_view RangeRuleName(RangeRule rule) {
  switch (rule) {
    case RangeRule::kAny:
      return "any";
    case RangeRule::kNonNeg:
      return "non_neg";
    case RangeRule::kPositive:
      return "positive";
    case RangeRule::kUnit:
      return "unit";
    case RangeRule::kSame:
      return "same";
    case RangeRule::kSameSign:
      return "same_sign";
    case RangeRule::kShrink:
      return "shrink";
    case RangeRule::kSquare:
      return "square";
    case RangeRule::kAddLike:
      return "add_like";
    case RangeRule::kMulLike:
      return "mul_like";
    case RangeRule::kMaximum:
      return "maximum";
    case RangeRule::kWeaker:
      return "weaker";
    case RangeRule::kClamp:
      return "clamp";
    case RangeRule::kScalarAdd:
      return "scalar_add";
    case RangeRule::kScalarSub:
      return "scalar_sub";
    case RangeRule::kScalarMul:
      return "scalar_mul";
    case RangeRule::kScalarDiv:
      return "scalar_div";
    case RangeRule::kPow:
      return "pow";
  }
  return "?";
}

}  // namespace drtriton::ops
