// Operator registry: every fact about an operator lives in one constexpr row (core/src/ops/registry.cc).
// The synthesizer, the PyTorch emitter, the Triton generator and the cost model all read these rows;
// nothing else lists operators.
#pragma once

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

/// How the Triton generator lowers an operator; also decides what fuses with what.
enum class Lowering : uint8_t {
  kElementwise,    // pointwise unary/binary/ternary with broadcasting; fuses into any pointwise chain
  kReduction,      // reduces one axis (sum, mean, max, logsumexp, argmax...)
  kNormalization,  // reduction then pointwise over the same rows (softmax, layer_norm, group_norm...)
  kMatmul,         // tl.dot-based: linear, matmul, bmm
  kConvolution,    // conv/conv-transpose: library call under the mixed policy, direct kernel otherwise
  kPooling,        // windowed reductions (max_pool, avg_pool)
  kLayout,         // reshape/permute/transpose/flatten/concat: index arithmetic, no math
};

/// What dtype an operator accepts and produces.
enum class DtypeRule : uint8_t {
  kFloatOnly,   // floating inputs, output has the input dtype
  kIndexOut,    // floating inputs, int64 output (argmax/argmin)
};

/// Attribute kinds. Values are stored as double (every integer we use is exact in a double).
enum class AttrKind : uint8_t {
  kInt,    // an integer from `choices` (kernel size, out_features, groups...)
  kFloat,  // a real from `choices` (eps, negative_slope...)
  kBool,   // 0 or 1
  kEnum,   // an index into `enum_names` (gelu approximate='none'|'tanh')
  kAxis,   // a non-negative axis of the first input; values >= its rank are rejected by InferOutput
};

/// One attribute: its name (the PyTorch keyword), kind and the finite domain the synthesizer draws from.
/// Imported programs may carry values outside `choices`; the shape rule decides whether they are legal.
struct AttrSpec {
  std::string_view name;
  AttrKind kind = AttrKind::kInt;
  std::span<const double> choices;             // the synthesis domain; never empty
  std::span<const std::string_view> enum_names;  // kEnum only: the spelling of each index
};

/// Roofline cost of one application, derived by the registry from the row and the concrete types.
struct Cost {
  double flops = 0;  // floating-point operations
  double bytes = 0;  // fewest bytes moved: each input read once, the output written once (+ weights)
};

/// One operator row. Behaviour that needs code (shape rule, cost) is a function the row points to.
struct OpSpec {
  OpId id;
  std::string_view name;        // lowercase torch.nn.functional spelling: "gelu", "conv_transpose2d"
  std::string_view torch;       // PyTorch spelling template; see registry.cc for the placeholder syntax
  std::string_view module;      // nn.Module class when the op owns parameters ("nn.Linear"), else ""
  int arity = 1;                // number of tensor inputs
  std::span<const AttrSpec> attrs;
  DtypeRule dtype = DtypeRule::kFloatOnly;
  Lowering lowering = Lowering::kElementwise;
  bool commutative = false;     // inputs may be swapped without changing the result (add, mul, maximum)
  bool heavy = false;           // matmul/conv class: counted by the difficulty knob `heavy`
  bool reduces = false;         // reduces at least one axis: counted by the difficulty knob `reductions`
};

/// All rows, indexed by OpId.
std::span<const OpSpec> Registry();

/// The row of one operator.
const OpSpec& Spec(OpId id);

/// Looks an operator up by its `name`; nullopt when unknown.
std::optional<OpId> FindOp(std::string_view name);

/// Applies the shape and dtype rule: the output type of `id` applied to `inputs` with `attrs`
/// (aligned with Spec(id).attrs), or nullopt when the constraint the rule places on its inputs fails
/// (rank, broadcast, channel match, axis out of range, non-positive output extent...).
std::optional<ir::TensorType> InferOutput(OpId id, std::span<const ir::TensorType> inputs,
                                          std::span<const double> attrs);

/// FLOPs and bytes of one application on concrete types (inputs, attrs, and the inferred output).
Cost EstimateCost(OpId id, std::span<const ir::TensorType> inputs, std::span<const double> attrs,
                  const ir::TensorType& output);

}  // namespace drtriton::ops
