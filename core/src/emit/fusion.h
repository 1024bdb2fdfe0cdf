// Fusion planner for the Triton generator: decides which values live in memory and groups every other
// node into the kernel of the stored value it feeds. One kernel per stored value; at most one "anchor"
// (reduction, normalization or matmul) per kernel, with pointwise producers inlined into its loads and a
// pointwise consumer chain fused as its epilogue.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "drtriton/emit_triton.h"
#include "drtriton/ir.h"

namespace drtriton::emit {

/// How one node is written, after the policy is applied.
enum class NodeClass : uint8_t {
  kPointwise,      // elementwise formula, broadcasting operands by index arithmetic
  kAlias,          // reshape/view/flatten/squeeze: same flat index
  kPermute,        // permute/transpose: permuted index
  kReduction,      // anchor: reduces contiguous axes
  kNormalization,  // anchor: row statistics then a pointwise pass over the same rows
  kMatmul,         // anchor: tl.dot tiles (linear, matmul, bmm)
  kLibrary,        // PyTorch library call in the host code (convolution under mixed/hybrid)
  kUnsupported,    // no lowering under this policy
};

std::string_view NodeClassName(NodeClass cls);
bool IsAnchor(NodeClass cls);

enum class KernelKind : uint8_t { kPointwise, kReduction, kNormalization, kMatmul, kLibrary };
std::string_view KernelKindName(KernelKind kind);

/// One kernel (or library call): it computes `root` and stores it.
struct Kernel {
  KernelKind kind = KernelKind::kPointwise;
  int32_t root = -1;                // value id written by this kernel
  int32_t anchor = -1;              // value id of its anchor node, -1 for pointwise kernels
  std::vector<int32_t> members;     // node value ids computed inside, in topological order
};

struct FusionPlan {
  std::vector<NodeClass> cls;       // per node (index = node index, not value id)
  std::vector<std::string> why;     // per node: why unsupported (empty otherwise)
  std::vector<bool> stored;         // per value: lives in memory (graph inputs always do)
  std::vector<Kernel> kernels;      // in execution order
  // Layout (set by the emitter, not the planning passes). Values stored channels-last (NHWC / NDHWC
  // memory for an [N, C, *S] shape; the conv_channels_last knob): value id -> true when the producing
  // library convolution ran without its bias, which every reader then adds per channel as it loads.
  std::map<int32_t, bool> channels_last;
  // Kernels that walk their output in channels-last memory order and store it so: pointwise kernels, and
  // GroupNorm / InstanceNorm kernels over a channels-last input.
  std::set<int32_t> physical_order;
  // Reduction / normalization kernels (by root) that read a channels-last input by spatial rows (a spatial
  // reduction, a GroupNorm): tiles wide in channels, each group walked channel-fastest.
  std::set<int32_t> channels_last_rows;
};

/// Ordered, named passes of the generator; each has a one-line reason.
struct PassInfo {
  std::string_view name;
  std::string_view why;
};
std::span<const PassInfo> TritonPasses();

/// Runs the planning passes up to and including `stop_after` (all when empty); returns the plan.
FusionPlan PlanFusion(const ir::Graph& graph, const TritonOptions& options,
                      std::string_view stop_after = {});

/// Human-readable dump of a (possibly partial) plan, for --dump-ir-after.
std::string DumpPlan(const ir::Graph& graph, const FusionPlan& plan);

}  // namespace drtriton::emit
