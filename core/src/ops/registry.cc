// The operator registry: one constexpr row per operator, in OpId order (ops.def).
// Adding an operator: add it to ops.def, add a row here, and a shape-rule case in
// core/tests/ops_registry_test.cc. Placeholder syntax of `torch`/`init` is documented on
// ops::OpSpec.
#include <string_view>

#include "drtriton/ir.h"
#include "drtriton/ops.h"

namespace drtriton::ops {
namespace {

// ---- attribute domains (small menus: the synthesizer draws from these) ----
inline constexpr double kBool01[] = {0, 1};
inline constexpr double kAxes[] = {0, 1, 2, 3, 4};
inline constexpr double kEps[] = {1e-5};
inline constexpr double kSlopes[] = {0.01, 0.2};
inline constexpr double kAlphas[] = {1.0, 0.5};
inline constexpr double kDropP[] = {0.1, 0.5};
inline constexpr double kLambdas[] = {0.5};
inline constexpr double kClampLo[] = {-1.0, 0.0};
inline constexpr double kClampHi[] = {1.0, 6.0};
inline constexpr double kTanhLo[] = {-1.0, -2.0};
inline constexpr double kTanhHi[] = {1.0, 2.0};
inline constexpr double kAddConsts[] = {1.0, 0.5, -0.5};
inline constexpr double kSubConsts[] = {1.0, 0.5};
inline constexpr double kMulConsts[] = {2.0, 0.5, -1.0};
inline constexpr double kDivConsts[] = {2.0, 0.5};
inline constexpr double kExponents[] = {2.0, 3.0, 0.5};
inline constexpr double kFeatures[] = {8, 16, 32, 64};
inline constexpr double kChannels[] = {8, 16, 32};
inline constexpr double kKernels[] = {1, 3, 5};
inline constexpr double kStrides[] = {1, 2};
inline constexpr double kPaddings[] = {0, 1};
inline constexpr double kOutPaddings[] = {0, 1};
inline constexpr double kGroups[] = {1, 2};
inline constexpr double kNumGroups[] = {2, 4};
inline constexpr double kPoolKernels[] = {2, 3};
inline constexpr double kOutputSize[] = {1};
inline constexpr double kStartDims[] = {0, 1, 2};
inline constexpr double kSplitSizes[] = {2, 4};
inline constexpr double kBetas[] = {1.0};
inline constexpr std::string_view kGeluModes[] = {"none", "tanh"};

inline constexpr AttrSpec kGeluAttrs[] = {
    {.name = "approximate", .kind = AttrKind::kEnum, .choices = kBool01, .enum_names = kGeluModes}};
inline constexpr AttrSpec kSlopeAttrs[] = {
    {.name = "negative_slope", .kind = AttrKind::kFloat, .choices = kSlopes}};
inline constexpr AttrSpec kAlphaAttrs[] = {
    {.name = "alpha", .kind = AttrKind::kFloat, .choices = kAlphas}};
inline constexpr AttrSpec kHardtanhAttrs[] = {
    {.name = "min_val", .kind = AttrKind::kFloat, .choices = kTanhLo},
    {.name = "max_val", .kind = AttrKind::kFloat, .choices = kTanhHi}};
inline constexpr AttrSpec kLambdAttrs[] = {
    {.name = "lambd", .kind = AttrKind::kFloat, .choices = kLambdas}};
inline constexpr AttrSpec kClampAttrs[] = {
    {.name = "min", .kind = AttrKind::kFloat, .choices = kClampLo},
    {.name = "max", .kind = AttrKind::kFloat, .choices = kClampHi}};
inline constexpr AttrSpec kDropoutAttrs[] = {
    {.name = "p", .kind = AttrKind::kFloat, .choices = kDropP}};
inline constexpr AttrSpec kAddScalarAttrs[] = {
    {.name = "other", .kind = AttrKind::kFloat, .choices = kAddConsts}};
inline constexpr AttrSpec kSubScalarAttrs[] = {
    {.name = "other", .kind = AttrKind::kFloat, .choices = kSubConsts}};
inline constexpr AttrSpec kMulScalarAttrs[] = {
    {.name = "other", .kind = AttrKind::kFloat, .choices = kMulConsts}};
inline constexpr AttrSpec kDivScalarAttrs[] = {
    {.name = "other", .kind = AttrKind::kFloat, .choices = kDivConsts}};
inline constexpr AttrSpec kPowAttrs[] = {
    {.name = "exponent", .kind = AttrKind::kFloat, .choices = kExponents}};
inline constexpr AttrSpec kReduceAttrs[] = {
    {.name = "dim", .kind = AttrKind::kAxis, .choices = kAxes},
    {.name = "keepdim", .kind = AttrKind::kBool, .choices = kBool01}};
inline constexpr AttrSpec kDimAttrs[] = {
    {.name = "dim", .kind = AttrKind::kAxis, .choices = kAxes}};
inline constexpr AttrSpec kEpsAttrs[] = {
    {.name = "eps", .kind = AttrKind::kFloat, .choices = kEps}};
inline constexpr AttrSpec kGroupNormAttrs[] = {
    {.name = "num_groups", .kind = AttrKind::kInt, .choices = kNumGroups},
    {.name = "eps", .kind = AttrKind::kFloat, .choices = kEps}};
inline constexpr AttrSpec kLinearAttrs[] = {
    {.name = "out_features", .kind = AttrKind::kInt, .choices = kFeatures},
    {.name = "bias", .kind = AttrKind::kBool, .choices = kBool01}};
inline constexpr AttrSpec kConvAttrs[] = {
    {.name = "out_channels", .kind = AttrKind::kInt, .choices = kChannels},
    {.name = "kernel_size", .kind = AttrKind::kInt, .choices = kKernels},
    {.name = "stride", .kind = AttrKind::kInt, .choices = kStrides},
    {.name = "padding", .kind = AttrKind::kInt, .choices = kPaddings},
    {.name = "groups", .kind = AttrKind::kInt, .choices = kGroups},
    {.name = "bias", .kind = AttrKind::kBool, .choices = kBool01}};
inline constexpr AttrSpec kConvTransposeAttrs[] = {
    {.name = "out_channels", .kind = AttrKind::kInt, .choices = kChannels},
    {.name = "kernel_size", .kind = AttrKind::kInt, .choices = kKernels},
    {.name = "stride", .kind = AttrKind::kInt, .choices = kStrides},
    {.name = "padding", .kind = AttrKind::kInt, .choices = kPaddings},
    {.name = "output_padding", .kind = AttrKind::kInt, .choices = kOutPaddings},
    {.name = "groups", .kind = AttrKind::kInt, .choices = kGroups},
    {.name = "bias", .kind = AttrKind::kBool, .choices = kBool01}};
inline constexpr AttrSpec kPoolAttrs[] = {
    {.name = "kernel_size", .kind = AttrKind::kInt, .choices = kPoolKernels},
    {.name = "stride", .kind = AttrKind::kInt, .choices = kStrides}};
inline constexpr AttrSpec kAdaptiveAttrs[] = {
    {.name = "output_size", .kind = AttrKind::kInt, .choices = kOutputSize}};
inline constexpr AttrSpec kFlattenAttrs[] = {
    {.name = "start_dim", .kind = AttrKind::kAxis, .choices = kStartDims}};
inline constexpr AttrSpec kUnflattenAttrs[] = {
    {.name = "dim", .kind = AttrKind::kAxis, .choices = kAxes},
    {.name = "size", .kind = AttrKind::kInt, .choices = kSplitSizes}};
inline constexpr AttrSpec kTransposeAttrs[] = {
    {.name = "dim0", .kind = AttrKind::kAxis, .choices = kAxes},
    {.name = "dim1", .kind = AttrKind::kAxis, .choices = kAxes}};
inline constexpr AttrSpec kSmoothL1Attrs[] = {
    {.name = "beta", .kind = AttrKind::kFloat, .choices = kBetas}};
inline constexpr AttrSpec kHuberAttrs[] = {
    {.name = "delta", .kind = AttrKind::kFloat, .choices = kBetas}};

// Lowering aliases (ShapeRule also has kMatmul, so Lowering::kMatmul stays qualified).
constexpr Lowering kReduction = Lowering::kReduction;
constexpr Lowering kNormalization = Lowering::kNormalization;
constexpr Lowering kConvolution = Lowering::kConvolution;
constexpr Lowering kPooling = Lowering::kPooling;
constexpr Lowering kLayout = Lowering::kLayout;
constexpr Lowering kScan = Lowering::kScan;
using enum ShapeRule;
using enum RangeRule;
constexpr Range kPos = Range::kPositive;
constexpr Range kNN = Range::kNonNeg;
constexpr Range kAnyR = Range::kAny;

// ---- the rows ----
// Unary rows: flops_per_elem is a rough count of float ops per element (transcendentals count
// ~4-8).
// clang-format off: one compact row per operator reads better than one line per field.
inline constexpr OpSpec kRegistry[] = {
    // ---- unary elementwise ----
    {.id = OpId::kRelu, .name = "relu", .torch = "F.relu({0})", .range = kNonNeg},
    {.id = OpId::kGelu, .name = "gelu", .torch = "F.gelu({0}, approximate='{approximate}')",
     .attrs = kGeluAttrs, .range = kSame, .flops_per_elem = 8},
    {.id = OpId::kRelu6, .name = "relu6", .torch = "F.relu6({0})", .range = kNonNeg,
     .flops_per_elem = 2},
    {.id = OpId::kLeakyRelu, .name = "leaky_relu",
     .torch = "F.leaky_relu({0}, negative_slope={negative_slope})", .attrs = kSlopeAttrs,
     .range = kSame,
     .flops_per_elem = 2},
    {.id = OpId::kElu, .name = "elu", .torch = "F.elu({0}, alpha={alpha})", .attrs = kAlphaAttrs,
     .range = kSame, .flops_per_elem = 5},
    {.id = OpId::kSelu, .name = "selu", .torch = "F.selu({0})", .range = kSameSign,
     .flops_per_elem = 6},
    {.id = OpId::kCelu, .name = "celu", .torch = "F.celu({0}, alpha={alpha})", .attrs = kAlphaAttrs,
     .range = kSame, .flops_per_elem = 6},
    {.id = OpId::kSilu, .name = "silu", .torch = "F.silu({0})", .range = kSame,
     .flops_per_elem = 5},
    {.id = OpId::kMish, .name = "mish", .torch = "F.mish({0})", .range = kSame,
     .flops_per_elem = 12},
    {.id = OpId::kSigmoid, .name = "sigmoid", .torch = "torch.sigmoid({0})", .range = kUnit,
     .flops_per_elem = 4},
    {.id = OpId::kHardsigmoid, .name = "hardsigmoid", .torch = "F.hardsigmoid({0})",
     .range = kNonNeg,
     .flops_per_elem = 3},
    {.id = OpId::kHardswish, .name = "hardswish", .torch = "F.hardswish({0})", .range = kSame,
     .flops_per_elem = 4},
    {.id = OpId::kLogsigmoid, .name = "logsigmoid", .torch = "F.logsigmoid({0})", .range = kAny,
     .flops_per_elem = 6},
    {.id = OpId::kTanh, .name = "tanh", .torch = "torch.tanh({0})", .range = kSame,
     .flops_per_elem = 6},
    {.id = OpId::kHardtanh, .name = "hardtanh",
     .torch = "F.hardtanh({0}, min_val={min_val}, max_val={max_val})", .attrs = kHardtanhAttrs,
     .range = kClamp, .flops_per_elem = 2},
    {.id = OpId::kSoftplus, .name = "softplus", .torch = "F.softplus({0})", .range = kPositive,
     .flops_per_elem = 6},
    {.id = OpId::kSoftsign, .name = "softsign", .torch = "F.softsign({0})", .range = kSame,
     .flops_per_elem = 3},
    {.id = OpId::kTanhshrink, .name = "tanhshrink", .torch = "F.tanhshrink({0})", .range = kShrink,
     .flops_per_elem = 7},
    {.id = OpId::kHardshrink, .name = "hardshrink", .torch = "F.hardshrink({0}, lambd={lambd})",
     .attrs = kLambdAttrs, .range = kShrink, .flops_per_elem = 2},
    {.id = OpId::kSoftshrink, .name = "softshrink", .torch = "F.softshrink({0}, lambd={lambd})",
     .attrs = kLambdAttrs, .range = kShrink, .flops_per_elem = 3},
    {.id = OpId::kClamp, .name = "clamp", .torch = "torch.clamp({0}, min={min}, max={max})",
     .attrs = kClampAttrs, .range = kClamp, .flops_per_elem = 2},
    {.id = OpId::kAbs, .name = "abs", .torch = "torch.abs({0})", .range = kNonNeg},
    {.id = OpId::kNeg, .name = "neg", .torch = "-{0}", .range = kAny},
    {.id = OpId::kExp, .name = "exp", .torch = "torch.exp({0})", .range = kPositive,
     .flops_per_elem = 4,
     .pad = PadValue::kNegInf},
    {.id = OpId::kLog, .name = "log", .torch = "torch.log({0})", .domain = {kPos, kAnyR},
     .range = kAny,
     .flops_per_elem = 4, .pad = PadValue::kOne},
    {.id = OpId::kSqrt, .name = "sqrt", .torch = "torch.sqrt({0})", .domain = {kNN, kAnyR},
     .range = kSame,
     .flops_per_elem = 2},
    {.id = OpId::kRsqrt, .name = "rsqrt", .torch = "torch.rsqrt({0})", .domain = {kPos, kAnyR},
     .range = kPositive, .flops_per_elem = 2, .pad = PadValue::kOne},
    {.id = OpId::kReciprocal, .name = "reciprocal", .torch = "torch.reciprocal({0})",
     .domain = {kPos, kAnyR}, .range = kPositive, .pad = PadValue::kOne},
    {.id = OpId::kSquare, .name = "square", .torch = "torch.square({0})", .range = kSquare},
    {.id = OpId::kSin, .name = "sin", .torch = "torch.sin({0})", .range = kAny,
     .flops_per_elem = 4},
    {.id = OpId::kCos, .name = "cos", .torch = "torch.cos({0})", .range = kAny,
     .flops_per_elem = 4},
    {.id = OpId::kErf, .name = "erf", .torch = "torch.erf({0})", .range = kSame,
     .flops_per_elem = 6},
    {.id = OpId::kDropout, .name = "dropout", .torch = "F.dropout({0}, p={p}, training=False)",
     .attrs = kDropoutAttrs, .range = kSame, .flops_per_elem = 0},
    // ---- tensor-scalar ----
    {.id = OpId::kAddScalar, .name = "add_scalar", .torch = "{0} + {other}",
     .attrs = kAddScalarAttrs,
     .range = kScalarAdd},
    {.id = OpId::kSubScalar, .name = "sub_scalar", .torch = "{0} - {other}",
     .attrs = kSubScalarAttrs,
     .range = kScalarSub},
    {.id = OpId::kMulScalar, .name = "mul_scalar", .torch = "{0} * {other}",
     .attrs = kMulScalarAttrs,
     .range = kScalarMul},
    {.id = OpId::kDivScalar, .name = "div_scalar", .torch = "{0} / {other}",
     .attrs = kDivScalarAttrs,
     .range = kScalarDiv},
    {.id = OpId::kPowScalar, .name = "pow_scalar", .torch = "torch.pow({0}, {exponent})",
     .attrs = kPowAttrs, .range = kPow, .flops_per_elem = 4},
    // ---- binary with broadcasting ----
    {.id = OpId::kAdd, .name = "add", .torch = "{0} + {1}", .arity = 2, .shape = kBroadcast,
     .commutative = true, .range = kAddLike},
    {.id = OpId::kSub, .name = "sub", .torch = "{0} - {1}", .arity = 2, .shape = kBroadcast,
     .range = kAny},
    {.id = OpId::kMul, .name = "mul", .torch = "{0} * {1}", .arity = 2, .shape = kBroadcast,
     .commutative = true, .range = kMulLike, .pad = PadValue::kOne},
    {.id = OpId::kDiv, .name = "div", .torch = "{0} / {1}", .arity = 2, .shape = kBroadcast,
     .domain = {kAnyR, kPos}, .range = kSameSign, .pad = PadValue::kOne},
    {.id = OpId::kMaximum, .name = "maximum", .torch = "torch.maximum({0}, {1})", .arity = 2,
     .shape = kBroadcast, .commutative = true, .range = kMaximum},
    {.id = OpId::kMinimum, .name = "minimum", .torch = "torch.minimum({0}, {1})", .arity = 2,
     .shape = kBroadcast, .commutative = true, .range = kWeaker},
    // ---- reductions over one axis ----
    {.id = OpId::kSum, .name = "sum", .torch = "torch.sum({0}, dim={dim}, keepdim={keepdim})",
     .attrs = kReduceAttrs, .shape = kReduceAxis, .lowering = kReduction, .reduces = true,
     .range = kSameSign},
    {.id = OpId::kMean, .name = "mean", .torch = "torch.mean({0}, dim={dim}, keepdim={keepdim})",
     .attrs = kReduceAttrs, .shape = kReduceAxis, .lowering = kReduction, .reduces = true,
     .range = kSame},
    {.id = OpId::kAmax, .name = "amax", .torch = "torch.amax({0}, dim={dim}, keepdim={keepdim})",
     .attrs = kReduceAttrs, .shape = kReduceAxis, .lowering = kReduction, .reduces = true,
     .range = kSame,
     .pad = PadValue::kNegInf},
    {.id = OpId::kAmin, .name = "amin", .torch = "torch.amin({0}, dim={dim}, keepdim={keepdim})",
     .attrs = kReduceAttrs, .shape = kReduceAxis, .lowering = kReduction, .reduces = true,
     .range = kSame,
     .pad = PadValue::kPosInf},
    {.id = OpId::kProd, .name = "prod", .torch = "torch.prod({0}, dim={dim}, keepdim={keepdim})",
     .attrs = kReduceAttrs, .shape = kReduceAxis, .lowering = kReduction, .reduces = true,
     .range = kSame,
     .pad = PadValue::kOne},
    {.id = OpId::kLogsumexp, .name = "logsumexp",
     .torch = "torch.logsumexp({0}, dim={dim}, keepdim={keepdim})", .attrs = kReduceAttrs,
     .shape = kReduceAxis, .lowering = kReduction, .reduces = true, .range = kAny,
     .flops_per_elem = 6,
     .pad = PadValue::kNegInf},
    {.id = OpId::kArgmax, .name = "argmax",
     .torch = "torch.argmax({0}, dim={dim}, keepdim={keepdim})",
     .attrs = kReduceAttrs, .shape = kReduceAxis, .dtype = DtypeRule::kIndexOut,
     .lowering = kReduction,
     .reduces = true, .range = kNonNeg, .pad = PadValue::kNegInf},
    {.id = OpId::kArgmin, .name = "argmin",
     .torch = "torch.argmin({0}, dim={dim}, keepdim={keepdim})",
     .attrs = kReduceAttrs, .shape = kReduceAxis, .dtype = DtypeRule::kIndexOut,
     .lowering = kReduction,
     .reduces = true, .range = kNonNeg, .pad = PadValue::kPosInf},
    {.id = OpId::kVar, .name = "var", .torch = "torch.var({0}, dim={dim}, keepdim={keepdim})",
     .attrs = kReduceAttrs, .shape = kReduceAxis, .lowering = kReduction, .reduces = true,
     .min_axis_extent = 2, .range = kNonNeg, .flops_per_elem = 4},
    {.id = OpId::kStd, .name = "std", .torch = "torch.std({0}, dim={dim}, keepdim={keepdim})",
     .attrs = kReduceAttrs, .shape = kReduceAxis, .lowering = kReduction, .reduces = true,
     .min_axis_extent = 2, .range = kNonNeg, .flops_per_elem = 4},
    {.id = OpId::kNorm, .name = "norm",
     .torch = "torch.linalg.vector_norm({0}, ord=2, dim={dim}, keepdim={keepdim})",
     .attrs = kReduceAttrs,
     .shape = kReduceAxis, .lowering = kReduction, .reduces = true, .range = kNonNeg,
     .flops_per_elem = 2},
    // ---- scans ----
    {.id = OpId::kCumsum, .name = "cumsum", .torch = "torch.cumsum({0}, dim={dim})",
     .attrs = kDimAttrs,
     .shape = kSameAlongAxis, .lowering = kScan, .range = kSameSign},
    {.id = OpId::kCumprod, .name = "cumprod", .torch = "torch.cumprod({0}, dim={dim})",
     .attrs = kDimAttrs,
     .shape = kSameAlongAxis, .lowering = kScan, .range = kSame, .pad = PadValue::kOne},
    // ---- normalizations ----
    {.id = OpId::kSoftmax, .name = "softmax", .torch = "torch.softmax({0}, dim={dim})",
     .attrs = kDimAttrs,
     .shape = kSameAlongAxis, .lowering = kNormalization, .reduces = true, .range = kUnit,
     .flops_per_elem = 6, .pad = PadValue::kNegInf},
    {.id = OpId::kLogSoftmax, .name = "log_softmax", .torch = "torch.log_softmax({0}, dim={dim})",
     .attrs = kDimAttrs, .shape = kSameAlongAxis, .lowering = kNormalization, .reduces = true,
     .range = kAny, .flops_per_elem = 7, .pad = PadValue::kNegInf},
    {.id = OpId::kNormalize, .name = "normalize", .torch = "F.normalize({0}, p=2.0, dim={dim})",
     .attrs = kDimAttrs, .shape = kSameAlongAxis, .lowering = kNormalization, .reduces = true,
     .range = kSameSign, .flops_per_elem = 4},
    {.id = OpId::kLayerNorm, .name = "layer_norm", .torch = "{self}({0})", .module = "nn.LayerNorm",
     .init = "nn.LayerNorm({normalized_shape:0.-1}, eps={eps})", .attrs = kEpsAttrs,
     .lowering = kNormalization, .reduces = true, .min_rank = 2, .range = kAny,
     .flops_per_elem = 8},
    {.id = OpId::kRmsNorm, .name = "rms_norm", .torch = "{self}({0})", .module = "nn.RMSNorm",
     .init = "nn.RMSNorm({normalized_shape:0.-1}, eps={eps})", .attrs = kEpsAttrs,
     .lowering = kNormalization, .reduces = true, .min_rank = 2, .range = kSameSign,
     .flops_per_elem = 5},
    {.id = OpId::kGroupNorm, .name = "group_norm", .torch = "{self}({0})", .module = "nn.GroupNorm",
     .init = "nn.GroupNorm({num_groups}, {num_channels:0.1}, eps={eps})", .attrs = kGroupNormAttrs,
     .shape = kGroupNorm, .lowering = kNormalization, .reduces = true, .min_rank = 3, .max_rank = 5,
     .range = kAny, .flops_per_elem = 8},
    // Inference-form batch norm (running statistics) whatever the module's train()/eval() mode.
    {.id = OpId::kBatchNorm, .name = "batch_norm",
     .torch = "F.batch_norm({0}, {self}.running_mean, {self}.running_var, {self}.weight, "
              "{self}.bias, training=False, eps={eps})",
     .module = "nn.BatchNorm{nd}d", .init = "nn.BatchNorm{nd}d({num_features:0.1}, eps={eps})",
     .attrs = kEpsAttrs, .lowering = kNormalization, .min_rank = 2, .max_rank = 5, .range = kAny,
     .flops_per_elem = 4},
    {.id = OpId::kInstanceNorm, .name = "instance_norm", .torch = "F.instance_norm({0}, eps={eps})",
     .attrs = kEpsAttrs, .shape = kSpatialStats, .lowering = kNormalization, .reduces = true,
     .min_rank = 3, .max_rank = 5, .range = kAny, .flops_per_elem = 8},
    // ---- matmul-like ----
    {.id = OpId::kLinear, .name = "linear", .torch = "{self}({0})", .module = "nn.Linear",
     .init = "nn.Linear({in_features:0.-1}, {out_features}, bias={bias})", .attrs = kLinearAttrs,
     .shape = kLinear, .lowering = Lowering::kMatmul, .heavy = true, .min_rank = 2, .max_rank = 4,
     .range = kAny},
    {.id = OpId::kMatmul, .name = "matmul", .torch = "torch.matmul({0}, {1})", .arity = 2,
     .shape = ShapeRule::kMatmul, .lowering = Lowering::kMatmul, .heavy = true, .min_rank = 2,
     .max_rank = 4, .range = kAny},
    {.id = OpId::kBmm, .name = "bmm", .torch = "torch.bmm({0}, {1})", .arity = 2, .shape = kBmm,
     .lowering = Lowering::kMatmul, .heavy = true, .min_rank = 3, .max_rank = 3, .range = kAny},
    // ---- convolutions (weights live in the module; in_channels comes from the input) ----
    {.id = OpId::kConv1d, .name = "conv1d", .torch = "{self}({0})", .module = "nn.Conv1d",
     .init = "nn.Conv1d({in_channels:0.1}, {out_channels}, {kernel_size}, stride={stride}, "
             "padding={padding}, groups={groups}, bias={bias})",
     .attrs = kConvAttrs, .shape = kConv, .lowering = kConvolution, .heavy = true, .spatial = 1,
     .range = kAny},
    {.id = OpId::kConv2d, .name = "conv2d", .torch = "{self}({0})", .module = "nn.Conv2d",
     .init = "nn.Conv2d({in_channels:0.1}, {out_channels}, {kernel_size}, stride={stride}, "
             "padding={padding}, groups={groups}, bias={bias})",
     .attrs = kConvAttrs, .shape = kConv, .lowering = kConvolution, .heavy = true, .spatial = 2,
     .range = kAny},
    {.id = OpId::kConv3d, .name = "conv3d", .torch = "{self}({0})", .module = "nn.Conv3d",
     .init = "nn.Conv3d({in_channels:0.1}, {out_channels}, {kernel_size}, stride={stride}, "
             "padding={padding}, groups={groups}, bias={bias})",
     .attrs = kConvAttrs, .shape = kConv, .lowering = kConvolution, .heavy = true, .spatial = 3,
     .range = kAny},
    {.id = OpId::kConvTranspose1d, .name = "conv_transpose1d", .torch = "{self}({0})",
     .module = "nn.ConvTranspose1d",
     .init = "nn.ConvTranspose1d({in_channels:0.1}, {out_channels}, {kernel_size}, "
             "stride={stride}, padding={padding}, output_padding={output_padding}, "
             "groups={groups}, bias={bias})",
     .attrs = kConvTransposeAttrs, .shape = kConvTranspose, .lowering = kConvolution, .heavy = true,
     .spatial = 1, .range = kAny},
    {.id = OpId::kConvTranspose2d, .name = "conv_transpose2d", .torch = "{self}({0})",
     .module = "nn.ConvTranspose2d",
     .init = "nn.ConvTranspose2d({in_channels:0.1}, {out_channels}, {kernel_size}, "
             "stride={stride}, padding={padding}, output_padding={output_padding}, "
             "groups={groups}, bias={bias})",
     .attrs = kConvTransposeAttrs, .shape = kConvTranspose, .lowering = kConvolution, .heavy = true,
     .spatial = 2, .range = kAny},
    {.id = OpId::kConvTranspose3d, .name = "conv_transpose3d", .torch = "{self}({0})",
     .module = "nn.ConvTranspose3d",
     .init = "nn.ConvTranspose3d({in_channels:0.1}, {out_channels}, {kernel_size}, "
             "stride={stride}, padding={padding}, output_padding={output_padding}, "
             "groups={groups}, bias={bias})",
     .attrs = kConvTransposeAttrs, .shape = kConvTranspose, .lowering = kConvolution, .heavy = true,
     .spatial = 3, .range = kAny},
    // ---- pooling ----
    {.id = OpId::kMaxPool1d, .name = "max_pool1d",
     .torch = "F.max_pool1d({0}, kernel_size={kernel_size}, stride={stride})", .attrs = kPoolAttrs,
     .shape = kPool, .lowering = kPooling, .spatial = 1, .range = kSame, .pad = PadValue::kNegInf},
    {.id = OpId::kMaxPool2d, .name = "max_pool2d",
     .torch = "F.max_pool2d({0}, kernel_size={kernel_size}, stride={stride})", .attrs = kPoolAttrs,
     .shape = kPool, .lowering = kPooling, .spatial = 2, .range = kSame, .pad = PadValue::kNegInf},
    {.id = OpId::kMaxPool3d, .name = "max_pool3d",
     .torch = "F.max_pool3d({0}, kernel_size={kernel_size}, stride={stride})", .attrs = kPoolAttrs,
     .shape = kPool, .lowering = kPooling, .spatial = 3, .range = kSame, .pad = PadValue::kNegInf},
    {.id = OpId::kAvgPool1d, .name = "avg_pool1d",
     .torch = "F.avg_pool1d({0}, kernel_size={kernel_size}, stride={stride})", .attrs = kPoolAttrs,
     .shape = kPool, .lowering = kPooling, .spatial = 1, .range = kSame},
    {.id = OpId::kAvgPool2d, .name = "avg_pool2d",
     .torch = "F.avg_pool2d({0}, kernel_size={kernel_size}, stride={stride})", .attrs = kPoolAttrs,
     .shape = kPool, .lowering = kPooling, .spatial = 2, .range = kSame},
    {.id = OpId::kAvgPool3d, .name = "avg_pool3d",
     .torch = "F.avg_pool3d({0}, kernel_size={kernel_size}, stride={stride})", .attrs = kPoolAttrs,
     .shape = kPool, .lowering = kPooling, .spatial = 3, .range = kSame},
    {.id = OpId::kAdaptiveAvgPool1d, .name = "adaptive_avg_pool1d",
     .torch = "F.adaptive_avg_pool1d({0}, {output_size})", .attrs = kAdaptiveAttrs,
     .shape = kAdaptivePool,
     .lowering = kPooling, .reduces = true, .spatial = 1, .range = kSame},
    {.id = OpId::kAdaptiveAvgPool2d, .name = "adaptive_avg_pool2d",
     .torch = "F.adaptive_avg_pool2d({0}, {output_size})", .attrs = kAdaptiveAttrs,
     .shape = kAdaptivePool,
     .lowering = kPooling, .reduces = true, .spatial = 2, .range = kSame},
    {.id = OpId::kAdaptiveAvgPool3d, .name = "adaptive_avg_pool3d",
     .torch = "F.adaptive_avg_pool3d({0}, {output_size})", .attrs = kAdaptiveAttrs,
     .shape = kAdaptivePool,
     .lowering = kPooling, .reduces = true, .spatial = 3, .range = kSame},
    // ---- layout ----
    {.id = OpId::kFlatten, .name = "flatten", .torch = "torch.flatten({0}, start_dim={start_dim})",
     .attrs = kFlattenAttrs, .shape = kFlatten, .lowering = kLayout, .range = kSame,
     .flops_per_elem = 0},
    {.id = OpId::kUnflatten, .name = "unflatten", .torch = "{0}.unflatten({dim}, ({size}, -1))",
     .attrs = kUnflattenAttrs, .shape = kUnflatten, .lowering = kLayout, .range = kSame,
     .flops_per_elem = 0},
    {.id = OpId::kTranspose, .name = "transpose", .torch = "{0}.transpose({dim0}, {dim1})",
     .attrs = kTransposeAttrs, .shape = kTranspose, .lowering = kLayout, .range = kSame,
     .flops_per_elem = 0},
    {.id = OpId::kUnsqueeze, .name = "unsqueeze", .torch = "{0}.unsqueeze({dim})",
     .attrs = kDimAttrs,
     .shape = kUnsqueeze, .lowering = kLayout, .range = kSame, .flops_per_elem = 0},
    {.id = OpId::kSqueeze, .name = "squeeze", .torch = "{0}.squeeze({dim})", .attrs = kDimAttrs,
     .shape = kSqueeze, .lowering = kLayout, .range = kSame, .flops_per_elem = 0},
    {.id = OpId::kConcat, .name = "concat", .torch = "torch.cat([{0}, {1}], dim={dim})", .arity = 2,
     .attrs = kDimAttrs, .shape = kConcat, .lowering = kLayout, .range = kWeaker,
     .flops_per_elem = 0},
    // ---- losses and similarities (reduction='mean' unless said) ----
    {.id = OpId::kMseLoss, .name = "mse_loss", .torch = "F.mse_loss({0}, {1})", .arity = 2,
     .shape = kLoss,
     .lowering = kReduction, .reduces = true, .range = kNonNeg, .flops_per_elem = 3},
    {.id = OpId::kL1Loss, .name = "l1_loss", .torch = "F.l1_loss({0}, {1})", .arity = 2,
     .shape = kLoss,
     .lowering = kReduction, .reduces = true, .range = kNonNeg, .flops_per_elem = 3},
    {.id = OpId::kSmoothL1Loss, .name = "smooth_l1_loss",
     .torch = "F.smooth_l1_loss({0}, {1}, beta={beta})",
     .arity = 2, .attrs = kSmoothL1Attrs, .shape = kLoss, .lowering = kReduction, .reduces = true,
     .range = kNonNeg, .flops_per_elem = 5},
    {.id = OpId::kHuberLoss, .name = "huber_loss", .torch = "F.huber_loss({0}, {1}, delta={delta})",
     .arity = 2, .attrs = kHuberAttrs, .shape = kLoss, .lowering = kReduction, .reduces = true,
     .range = kNonNeg, .flops_per_elem = 5},
    // Input 0 holds log-probabilities, input 1 probabilities (positive: target * log(target)).
    {.id = OpId::kKlDiv, .name = "kl_div", .torch = "F.kl_div({0}, {1}, reduction='batchmean')",
     .arity = 2, .shape = kLoss, .lowering = kReduction, .reduces = true, .min_rank = 1,
     .domain = {kAnyR, kPos}, .range = kAny, .flops_per_elem = 6},
    {.id = OpId::kCosineSimilarity, .name = "cosine_similarity",
     .torch = "F.cosine_similarity({0}, {1}, dim={dim})", .arity = 2, .attrs = kDimAttrs,
     .shape = kBroadcastReduce, .lowering = kReduction, .reduces = true, .min_rank = 1,
     .range = kAny,
     .flops_per_elem = 6},
};
// clang-format on

constexpr bool RowsFollowEnumOrder(std::span<const OpSpec> rows) {
  if (rows.size() != static_cast<size_t>(kNumOps)) return false;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (static_cast<size_t>(rows[i].id) != i) return false;
  }
  return true;
}
static_assert(RowsFollowEnumOrder(kRegistry), "kRegistry rows must be in OpId order (see ops.def)");

constexpr std::string_view kNames[] = {
#define DRT_OP(enumerator, name) name,
#include "drtriton/ops.def"
#undef DRT_OP
};

constexpr bool NamesMatchDef(std::span<const OpSpec> rows) {
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].name != kNames[i]) return false;
  }
  return true;
}
static_assert(NamesMatchDef(kRegistry), "each row's name must equal its ops.def spelling");

constexpr bool ModuleOpsHaveInit(std::span<const OpSpec> rows) {
  for (const OpSpec& row : rows) {
    if (row.module.empty() != row.init.empty()) return false;
    if (row.arity < 1 || row.arity > kMaxArity) return false;
    for (const AttrSpec& attr : row.attrs) {
      if (attr.choices.empty()) return false;
    }
  }
  return true;
}
static_assert(ModuleOpsHaveInit(kRegistry),
              "rows: module<->init, arity in 1..kMaxArity, non-empty choices");

}  // namespace

std::span<const OpSpec> Registry() { return kRegistry; }

const OpSpec& Spec(OpId id) { return kRegistry[static_cast<size_t>(id)]; }

std::optional<OpId> FindOp(std::string_view name) {
  for (const OpSpec& row : kRegistry) {
    if (row.name == name) return row.id;
  }
  return std::nullopt;
}

int AttrIndex(OpId id, std::string_view name) {
  const auto& attrs = Spec(id).attrs;
  for (size_t i = 0; i < attrs.size(); ++i) {
    if (attrs[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

std::vector<OpId> OpsWithLowering(Lowering lowering) {
  std::vector<OpId> out;
  for (const OpSpec& row : kRegistry) {
    if (row.lowering == lowering) out.push_back(row.id);
  }
  return out;
}

}  // namespace drtriton::ops
