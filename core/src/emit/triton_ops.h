// How the Triton generator lowers each operator, keyed by the registry name: pointwise formulas, index
// maps of layout ops, and the parameters a module-owning operator reads. The registry row says *which*
// lowering class an op has; this file says *how* that class is written in Triton for the op.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "drtriton/ir.h"

namespace drtriton::emit {

/// Attribute of a node by its registry name; `fallback` when the row has no such attribute.
double AttrOr(const ir::Node& node, std::string_view name, double fallback);
/// True when the node's registry row declares attribute `name`.
bool HasAttr(const ir::Node& node, std::string_view name);
/// The spelling of an enum attribute ("tanh"), or `fallback` when absent.
std::string EnumAttrOr(const ir::Node& node, std::string_view name, std::string_view fallback);

/// A Python float literal that Triton accepts ("2.0", "1e-05", "float('inf')").
std::string FloatLit(double value);

/// Triton expression for a pointwise op applied to already-computed fp32 operands (variable names),
/// or nullopt when the op has no pointwise lowering here.
std::optional<std::string> PointwiseFormula(const ir::Node& node, const std::vector<std::string>& args);

/// True when `node` is a pure relabelling of a contiguous tensor (reshape, view, flatten, squeeze...):
/// element i of the output is element i of the input.
bool IsFlatAlias(const ir::Node& node);

/// For permute/transpose: output dim d reads input dim perm[d]; nullopt for other ops.
std::optional<std::vector<int>> Permutation(const ir::Node& node, int rank);

/// For a reduction over contiguous axes: the axes [first, last] of the input it reduces.
struct ReduceAxes {
  int first = 0;
  int last = 0;
};
std::optional<ReduceAxes> ReducedAxes(const ir::Graph& graph, const ir::Node& node);

/// The named parameters (weight, bias, running_mean...) an operator reads, in the order the kernel
/// takes them; empty for parameter-free ops.
std::vector<std::string> ParamRoles(const ir::Node& node);

/// Row-wise view of a normalization/reduction: the input is indexed as (o, r, i) with `R` reduced
/// elements per (o, i) pair. `index` spells the flat input index from variable names o, r, i.
struct RowLayout {
  int64_t outer = 1;
  int64_t reduce = 1;
  int64_t inner = 1;
  // batch_norm (training statistics) reduces the non-contiguous axes N and H*W of each channel.
  bool channel_major = false;
  int64_t channels = 1;
  int64_t spatial = 1;
  std::string Index(const std::string& o, const std::string& r, const std::string& i) const;
};

}  // namespace drtriton::emit
