// Operator registry: every fact about an operator lives in one constexpr row
// (core/src/ops/registry.cc). The synthesizer, the PyTorch emitter, the Triton generator and the
// cost model all read these rows; nothing else lists operators. `drtriton ops` prints the table;
// docs/OPERATORS.md is generated from it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace drtriton::ir {
struct TensorType;
}

namespace drtriton::ops {

/// Every operator, in registry order. The registry has one row per enumerator, in this order
/// (a static_assert in registry.cc checks it). kCount is the number of operators.
enum class OpId : uint16_t {
#define DRT_OP(enumerator, name) enumerator,
#include "drtriton/ops.def"
#undef DRT_OP
  kCount
};

inline constexpr int kNumOps = static_cast<int>(OpId::kCount);

/// The most tensor inputs any operator takes.
inline constexpr int kMaxArity = 2;

/// How the Triton generator lowers an operator; also decides what fuses with what.
enum class Lowering : uint8_t {
  kElementwise,  // pointwise unary/binary/ternary with broadcasting; fuses into any pointwise chain
  kReduction,    // reduces one axis (sum, mean, max, logsumexp, argmax, losses...)
  kNormalization,  // reduction then pointwise over the same rows (softmax, layer_norm,
                   // group_norm...)
  kMatmul,         // tl.dot-based: linear, matmul, bmm
  kConvolution,    // conv/conv-transpose: library call under the mixed policy, direct kernel
                   // otherwise
  kPooling,        // windowed reductions (max_pool, avg_pool, adaptive_avg_pool)
  kLayout,         // reshape/permute/transpose/flatten/concat: index arithmetic, no math
  kScan,           // prefix scan along one axis (cumsum, cumprod): tl.associative_scan
};

/// What dtype an operator accepts and produces.
enum class DtypeRule : uint8_t {
  kFloatOnly,  // floating inputs, output has the input dtype
  kIndexOut,   // floating inputs, int64 output (argmax/argmin)
};

/// The shape rule of an operator: how InferOutput computes the output shape and which constraints
/// it places on the inputs. Rank limits (OpSpec::min_rank/max_rank) apply to input 0 on top of the
/// rule.
enum class ShapeRule : uint8_t {
  kSameAsInput,    // output = input 0 (unary elementwise, scalar ops, norms over fixed axes)
  kSameAlongAxis,  // output = input 0; attr `dim` < rank (softmax, cumsum, normalize)
  kSpatialStats,   // output = input 0; rank >= 3 and the spatial extents hold >= 2 elements
                   // (instance_norm)
  kGroupNorm,      // output = input 0; channels (dim 1) divisible by attr num_groups
  kBroadcast,      // numpy broadcasting of the two inputs (add, mul, maximum...)
  kReduceAxis,  // attrs (dim, keepdim): removes or keeps-as-1 axis `dim`; extent >= min_axis_extent
  kLoss,        // two inputs of equal shape; output is a 0-d tensor (reduction='mean'/'batchmean')
  kBroadcastReduce,  // broadcast the two inputs, then remove axis `dim` (cosine_similarity)
  kLinear,           // last dim -> attr out_features
  kMatmul,           // [..., M, K] @ [..., K, N] -> [..., M, N], batch dims broadcast (ranks 2..4)
  kBmm,              // [B, M, K] @ [B, K, N] -> [B, M, N]
  kConv,  // [N, C, *spatial] -> [N, out_channels, *out]; C % groups == 0, out_channels % groups ==
          // 0
  kConvTranspose,  // as kConv with out = (L-1)*stride - 2*padding + kernel + output_padding
  kPool,           // [N, C, *spatial] -> floor((L - kernel)/stride) + 1 per spatial dim, >= 1
  kAdaptivePool,   // [N, C, *spatial] -> [N, C, output_size...]
  kFlatten,        // flattens dims start_dim..end
  kUnflatten,      // splits dim `dim` into (size, extent/size); extent % size == 0
  kTranspose,      // swaps dim0 < dim1
  kUnsqueeze,      // inserts a 1 at dim <= rank
  kSqueeze,        // removes dim `dim` whose extent is 1
  kConcat,         // equal ranks and extents except along `dim`, which adds up
};

/// Attribute kinds. Values are stored as double (every integer we use is exact in a double).
enum class AttrKind : uint8_t {
  kInt,    // an integer from `choices` (kernel size, out_features, groups...)
  kFloat,  // a real from `choices` (eps, negative_slope...)
  kBool,   // 0 or 1
  kEnum,   // an index into `enum_names` (gelu approximate='none'|'tanh')
  kAxis,   // a non-negative axis of the first input; values >= its rank are rejected by InferOutput
};

/// One attribute: its name (the PyTorch keyword), kind and the finite domain the synthesizer draws
/// from. Imported programs may carry values outside `choices`; the shape rule decides whether they
/// are legal.
struct AttrSpec {
  std::string_view name;
  AttrKind kind = AttrKind::kInt;
  std::span<const double> choices;               // the synthesis domain; never empty
  std::span<const std::string_view> enum_names;  // kEnum only: the spelling of each index
};

/// Value-range classes, so the synthesizer can avoid programs that produce NaN/Inf (log of a
/// negative, sqrt of a negative, division by something that may be 0). A chain lattice of sets of
/// reals: kAny ⊇ kNonNeg ⊇ kPositive ⊇ kUnit, where kNonNeg = [0, inf), kPositive = (0, inf), kUnit
/// = (0, 1). Ranges are the mathematical ones (exp is kPositive even though exp(-200) underflows in
/// fp32).
enum class Range : uint8_t { kAny, kNonNeg, kPositive, kUnit };

/// True when every value of class `inner` lies in class `outer` (kUnit is inside all the others).
constexpr bool Within(Range inner, Range outer) {
  return static_cast<uint8_t>(inner) >= static_cast<uint8_t>(outer);
}

/// How an operator's output range class follows from its input classes (and attrs). See
/// OutputRange.
enum class RangeRule : uint8_t {
  kAny,        // anything (sub, sin, linear, conv, log...)
  kNonNeg,     // always >= 0 (relu, abs, var, losses, argmax)
  kPositive,   // always > 0 (exp, softplus, rsqrt, reciprocal)
  kUnit,       // always in (0, 1) (sigmoid, softmax)
  kSame,       // the class of input 0 (leaky_relu, gelu, mean, amax, layout ops, pools)
  kSameSign,   // the class of input 0 with kUnit widened to kPositive (selu, sum, cumsum, division)
  kShrink,     // kAny stays kAny, everything else becomes kNonNeg (hardshrink, softshrink)
  kSquare,     // kAny becomes kNonNeg, others stay (square)
  kAddLike,    // the weaker of the two, kUnit widened to kPositive (add)
  kMulLike,    // the weaker of the two (mul: unit*unit is unit)
  kMaximum,    // the stronger of the two, kUnit only when both are (maximum)
  kWeaker,     // the weaker of the two (minimum, concat)
  kClamp,      // attr 0 is a lower bound lo: lo > 0 -> kPositive, lo == 0 -> >= kNonNeg, lo < 0 ->
               // kSame
  kScalarAdd,  // attr 0 is the added scalar c: c > 0 lifts non-negative classes to kPositive
  kScalarSub,  // attr 0 is the subtracted scalar c: c <= 0 behaves like kScalarAdd with -c
  kScalarMul,  // attr 0 is the factor c: c > 0 -> kSameSign, c == 0 -> kNonNeg, c < 0 -> kAny
  kScalarDiv,  // attr 0 is the divisor c (non-zero): like kScalarMul with 1/c
  kPow,        // attr 0 is the exponent p: even integer -> kSquare, otherwise kSame
};

/// The value a masked (out-of-bounds) lane should load so it does not change the result: the
/// identity of the operator's reduction, or a value the pointwise function maps to itself.
enum class PadValue : uint8_t { kZero, kOne, kNegInf, kPosInf };

/// Roofline cost of one application, derived by the registry from the row and the concrete types.
struct Cost {
  double flops = 0;  // floating-point operations
  double bytes =
      0;  // fewest bytes moved: each input read once, the output written once (+ weights)
};

/// One operator row. Behaviour that needs code (shape rule, cost) is a function the row points to.
///
/// Spelling templates (`torch`, `init`) use placeholders in braces:
///   {0} {1}        the Python expression of tensor input 0 / 1
///   {attr}         an attribute by name: ints "3", floats shortest repr "0.01", bools True/False,
///                  enums the bare name (the template supplies quotes: approximate='{approximate}')
///   {self}         the submodule created in __init__ from `init` (module ops only)
///   {nd}           number of spatial dims of input 0, at least 1 (nn.BatchNorm{nd}d)
///   {name:i.d}     (init only) extent d of input i (d < 0 counts from the end); the emitter turns
///   it
///                  into an __init__ argument called `name` (in_features, in_channels...)
/// In `init`, kInt attributes become __init__ arguments too (named after the attribute).
struct OpSpec {
  OpId id;
  std::string_view name;    // lowercase torch.nn.functional spelling: "gelu", "conv_transpose2d"
  std::string_view torch;   // PyTorch spelling template of the forward expression
  std::string_view module;  // nn.Module class when the op owns parameters ("nn.Linear"), else ""
  std::string_view
      init;       // constructor template when `module` is set: "nn.Linear({in_features:0.-1}, ...)"
  int arity = 1;  // number of tensor inputs
  std::span<const AttrSpec> attrs;
  ShapeRule shape = ShapeRule::kSameAsInput;
  DtypeRule dtype = DtypeRule::kFloatOnly;
  Lowering lowering = Lowering::kElementwise;
  bool commutative =
      false;             // inputs may be swapped without changing the result (add, mul, maximum)
  bool heavy = false;    // matmul/conv class: counted by the difficulty knob `heavy`
  bool reduces = false;  // reduces at least one axis: counted by the difficulty knob `reductions`
  int8_t spatial = 0;    // conv/pool: number of spatial dims (input rank = spatial + 2)
  int8_t min_rank = 0;   // input 0 must have rank >= min_rank
  int8_t max_rank = 6;   // ... and rank <= max_rank
  int8_t min_axis_extent = 1;  // kReduceAxis: the reduced extent must be at least this (var/std: 2)
  std::array<Range, kMaxArity> domain = {Range::kAny, Range::kAny};  // class each input must lie in
  RangeRule range = RangeRule::kAny;
  double flops_per_elem = 1;  // elementwise/reduction/norm cost per element of the larger side
  PadValue pad = PadValue::kZero;
};

/// All rows, indexed by OpId.
std::span<const OpSpec> Registry();

/// The row of one operator.
const OpSpec& Spec(OpId id);

/// Looks an operator up by its `name`; nullopt when unknown.
std::optional<OpId> FindOp(std::string_view name);

/// Applies the shape and dtype rule: the output type of `id` applied to `inputs` with `attrs`
/// (aligned with Spec(id).attrs), or nullopt when the constraint the rule places on its inputs
/// fails (rank, broadcast, channel match, axis out of range, non-positive output extent...).
std::optional<ir::TensorType> InferOutput(OpId id, std::span<const ir::TensorType> inputs,
                                          std::span<const double> attrs);

/// Like InferOutput, but on failure says why (one line naming the constraint and the values seen);
/// `why` is left empty on success.
std::optional<ir::TensorType> InferOutputExplained(OpId id, std::span<const ir::TensorType> inputs,
                                                   std::span<const double> attrs, std::string* why);

/// FLOPs and bytes of one application on concrete types (inputs, attrs, and the inferred output).
Cost EstimateCost(OpId id, std::span<const ir::TensorType> inputs, std::span<const double> attrs,
                  const ir::TensorType& output);

/// The range class input `arg` of `id` must lie in, given `attrs` (pow_scalar with a fractional
/// exponent needs a non-negative base; log needs a positive one; div's denominator must be
/// positive).
Range InputDomain(OpId id, int arg, std::span<const double> attrs);

/// The range class of the output of `id` given its input classes and attrs (see RangeRule).
Range OutputRange(OpId id, std::span<const Range> inputs, std::span<const double> attrs);

/// Index of the attribute called `name` in Spec(id).attrs, or -1.
int AttrIndex(OpId id, std::string_view name);

/// Names for tables and docs: "elementwise", "reduce_axis", "non_neg", "same"...
std::string_view LoweringName(Lowering lowering);
std::string_view ShapeRuleName(ShapeRule rule);
std::string_view RangeName(Range range);
std::string_view RangeRuleName(RangeRule rule);

/// The derived op sets (never hand-listed twice): every OpId whose row has the given lowering.
std::vector<OpId> OpsWithLowering(Lowering lowering);

}  // namespace drtriton::ops
