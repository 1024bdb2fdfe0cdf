// Fusion planner (see fusion.h). Passes run in the order of TritonPasses(); each one only adds facts.
#include "emit/fusion.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "drtriton/ops.h"
#include "emit/triton_ops.h"
#include "support/check.h"

namespace drtriton::emit {
namespace {

constexpr PassInfo kPasses[] = {
    {"classify", "give each node its lowering class under the policy, and name the ones with none"},
    {"materialize", "store graph outputs, shared values, library-call operands, splits and every anchor"},
    {"fuse_epilogues", "fold a lone pointwise consumer chain into the reduction/matmul feeding it"},
    {"group", "one kernel per stored value: its anchor and the nodes inlined into it"},
};

int64_t Numel(const ir::Graph& g, int32_t v) { return g.TypeOf(v).Numel(); }

bool SupportedReduction(std::string_view op) {
  return op == "sum" || op == "mean" || op == "amax" || op == "amin" || op == "logsumexp" ||
         op == "argmax" || op == "argmin" || op == "var" || op == "std" || op == "norm" ||
         op == "mse_loss" || op == "l1_loss" || op == "smooth_l1_loss" || op == "huber_loss" ||
         op == "kl_div" || op == "prod" || op == "cosine_similarity" || op == "adaptive_avg_pool1d" || op == "adaptive_avg_pool2d" || op == "adaptive_avg_pool3d";
}

bool SupportedNormalization(std::string_view op) {
  return op == "softmax" || op == "log_softmax" || op == "normalize" || op == "layer_norm" ||
         op == "rms_norm" || op == "group_norm" || op == "instance_norm";
}

NodeClass Classify(const ir::Graph& g, const ir::Node& n, Policy policy, std::string* why) {
  const ops::OpSpec& spec = ops::Spec(n.op);
  const std::string_view op = spec.name;
  const bool library_ok = policy != Policy::kStrict;
  switch (spec.lowering) {
    case ops::Lowering::kElementwise:
      if (PointwiseFormula(n, std::vector<std::string>(spec.arity, "x"))) return NodeClass::kPointwise;
      break;
    case ops::Lowering::kLayout:
      if (IsFlatAlias(n)) return NodeClass::kAlias;
      if (op == "concat") return NodeClass::kPointwise;
      if (Permutation(n, g.TypeOf(n.inputs[0]).Rank())) return NodeClass::kPermute;
      break;
    case ops::Lowering::kNormalization:
      if (op == "batch_norm") return NodeClass::kPointwise;  // inference form: per-channel affine map
      if (SupportedNormalization(op)) return NodeClass::kNormalization;
      break;
    case ops::Lowering::kReduction:
    case ops::Lowering::kPooling:
      if ((op.starts_with("max_pool") || op.starts_with("avg_pool")) && g.TypeOf(n.inputs[0]).Rank() >= 3) {
        return NodeClass::kPointwise;  // a window fold per output element: inlines like a pointwise op
      }
      if (SupportedReduction(op)) {
        if (op.starts_with("adaptive") && AttrOr(n, "output_size", 1) != 1) break;
        return NodeClass::kReduction;
      }
      break;
    case ops::Lowering::kScan:
      // A scan is a normalization-shaped anchor: per row, one pass that writes every element.
      if (op == "cumsum" || op == "cumprod") return NodeClass::kNormalization;
      break;
    case ops::Lowering::kMatmul:
      if (op == "linear") return NodeClass::kMatmul;
      if ((op == "matmul" || op == "bmm") && g.TypeOf(n.inputs[0]).Rank() >= 2 &&
          g.TypeOf(n.inputs[1]).Rank() >= 2) {
        return NodeClass::kMatmul;
      }
      break;
    case ops::Lowering::kConvolution:
      if (library_ok) return NodeClass::kLibrary;
      *why = "convolution runs as a PyTorch library call only; use --policy mixed";
      return NodeClass::kUnsupported;
    default:
      break;
  }
  if (policy == Policy::kHybrid) return NodeClass::kLibrary;
  *why = "no Triton lowering for '" + std::string(op) + "' yet; use --policy hybrid to keep it in PyTorch";
  return NodeClass::kUnsupported;
}

// Nodes computed inside the kernel of `root`: DFS through values that are not stored.
std::vector<int32_t> KernelTree(const ir::Graph& g, const FusionPlan& plan, int32_t root) {
  const int32_t k = static_cast<int32_t>(g.inputs.size());
  std::set<int32_t> seen;
  std::vector<int32_t> stack = {root};
  while (!stack.empty()) {
    const int32_t v = stack.back();
    stack.pop_back();
    if (v < k || !seen.insert(v).second) continue;
    if (plan.cls[v - k] == NodeClass::kLibrary) continue;  // computed on the host, never inlined
    for (int32_t u : g.nodes[v - k].inputs) {
      if (!plan.stored[u]) stack.push_back(u);
    }
  }
  return {seen.begin(), seen.end()};  // ascending value id = topological order
}

// A reduction whose value broadcasts back over the axes it reduced (keepdim, or leading axes dropped):
// a pointwise consumer at the input's shape reads it at every element of its row. Single-input reductions
// whose accumulator the emitter finalises per row (cosine_similarity and the losses read two inputs;
// argmax/argmin give indices; adaptive pools are pools).
bool RowBroadcastable(const ir::Graph& g, const ir::Node& a) {
  const std::string_view op = ops::Spec(a.op).name;
  if (!(op == "sum" || op == "mean" || op == "amax" || op == "amin" || op == "logsumexp" || op == "var" ||
        op == "std" || op == "norm" || op == "prod")) {
    return false;
  }
  const ir::Shape& in = g.TypeOf(a.inputs[0]).shape;
  const auto axes = ReducedAxes(g, a);
  if (!axes) return false;
  ir::Shape want = in;
  for (int d = axes->first; d <= axes->last; ++d) want[d] = 1;
  const ir::Shape& out = a.type.shape;
  if (out.size() > in.size()) return false;
  ir::Shape padded(in.size() - out.size(), 1);
  padded.insert(padded.end(), out.begin(), out.end());
  return padded == want;
}

// Does the kernel of `root` read the output of a host library call (a convolution)? Such reads may be
// channels-last (PlanLayouts), which a row epilogue's row-major store does not follow.
bool ReadsLibraryOutput(const ir::Graph& g, const FusionPlan& plan, int32_t root) {
  const int32_t k = static_cast<int32_t>(g.inputs.size());
  for (int32_t v : KernelTree(g, plan, root)) {
    for (int32_t u : g.nodes[v - k].inputs) {
      if (u >= k && plan.stored[u] && plan.cls[u - k] == NodeClass::kLibrary) return true;
    }
  }
  return false;
}

}  // namespace

std::string_view NodeClassName(NodeClass cls) {
  constexpr std::string_view kNames[] = {"pointwise", "alias",   "permute", "reduction",
                                         "normalization", "matmul", "library", "unsupported"};
  return kNames[static_cast<int>(cls)];
}

bool IsAnchor(NodeClass cls) {
  return cls == NodeClass::kReduction || cls == NodeClass::kNormalization || cls == NodeClass::kMatmul;
}

std::string_view KernelKindName(KernelKind kind) {
  constexpr std::string_view kNames[] = {"pointwise", "reduction", "normalization", "matmul", "library"};
  return kNames[static_cast<int>(kind)];
}

std::span<const PassInfo> TritonPasses() { return kPasses; }

FusionPlan PlanFusion(const ir::Graph& g, const TritonOptions& options, std::string_view stop_after) {
  const TritonKnobs& knobs = options.knobs;
  const int32_t k = static_cast<int32_t>(g.inputs.size());
  const int32_t nv = g.NumValues();
  FusionPlan plan;
  bool known = stop_after.empty();
  for (const PassInfo& p : kPasses) known |= p.name == stop_after;
  DRT_CHECK(known, ValueError, "unknown pass '" << stop_after << "' for --dump-ir-after; pick one of "
                                                 "classify, materialize, fuse_epilogues, group");
  // ---- classify ----
  plan.cls.resize(g.nodes.size());
  plan.why.resize(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    plan.cls[i] = Classify(g, g.nodes[i], options.policy, &plan.why[i]);
  }
  if (stop_after == "classify") return plan;

  // ---- materialize ----
  std::vector<std::set<int32_t>> consumers(nv);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (int32_t u : g.nodes[i].inputs) consumers[u].insert(static_cast<int32_t>(k + i));
  }
  plan.stored.assign(nv, false);
  for (int32_t v = 0; v < k; ++v) plan.stored[v] = true;
  for (int32_t v : g.outputs) plan.stored[v] = true;
  for (int32_t v : knobs.split) {
    DRT_CHECK(v >= k && v < nv, ValueError,
              "fusion split names value " << v << ", which is not a node output (values " << k << ".."
                                          << nv - 1 << "); pick a node's value id");
    plan.stored[v] = true;
  }
  // Operands of host PyTorch calls (hybrid FX-level split) must exist in memory when the call runs.
  const int32_t first_extra = k - static_cast<int32_t>(options.extra_inputs.size());
  for (const auto& [j, deps] : options.host_deps) {
    DRT_CHECK(j >= 0 && first_extra + j < k, ValueError,
              "host_deps names extra input " << j << " but there are " << options.extra_inputs.size()
                                             << "; key host_deps by the index into extra_inputs");
    for (int32_t d : deps) {
      DRT_CHECK(d >= 0 && d < nv, ValueError, "host_deps[" << j << "] reads value " << d << ", not in 0.." << nv - 1);
      plan.stored[d] = true;
    }
  }
  for (int32_t v = k; v < nv; ++v) {
    const NodeClass cls = plan.cls[v - k];
    if (consumers[v].size() > 1) plan.stored[v] = true;
    if (IsAnchor(cls) || cls == NodeClass::kLibrary || cls == NodeClass::kUnsupported) plan.stored[v] = true;
    if (cls == NodeClass::kLibrary || (IsAnchor(cls) && !knobs.fuse_prologue)) {
      for (int32_t u : g.nodes[v - k].inputs) plan.stored[u] = true;
    }
  }
  // A window fold (pool) feeding a tl.dot operand is stored by its own kernel: inlined, it would be
  // recomputed for every N tile, and its unrolled window loads, software-pipelined with the K loop, asked
  // for 514 KB of shared memory on KernelBench L3 19 (MobileNetV1's avg_pool2d -> flatten -> linear).
  for (int32_t v = k; knobs.fuse_prologue && v < nv; ++v) {
    if (plan.cls[v - k] != NodeClass::kMatmul) continue;
    std::vector<int32_t> stack(g.nodes[v - k].inputs.begin(), g.nodes[v - k].inputs.end());
    while (!stack.empty()) {
      const int32_t u = stack.back();
      stack.pop_back();
      if (u < k || plan.stored[u]) continue;
      if (ops::Spec(g.nodes[u - k].op).lowering == ops::Lowering::kPooling) {
        plan.stored[u] = true;
        continue;
      }
      for (int32_t w : g.nodes[u - k].inputs) stack.push_back(w);
    }
  }
  if (stop_after == "materialize") return plan;

  // ---- fuse_epilogues ----
  for (int32_t a = k; knobs.fuse_epilogue && a < nv; ++a) {
    if (!IsAnchor(plan.cls[a - k]) || consumers[a].size() != 1) continue;
    if (std::find(g.outputs.begin(), g.outputs.end(), a) != g.outputs.end()) continue;
    if (std::find(knobs.split.begin(), knobs.split.end(), a) != knobs.split.end()) continue;
    if (ops::Spec(g.nodes[a - k].op).dtype == ops::DtypeRule::kIndexOut) continue;
    // Walk the lone-consumer chain to the stored value that will own the kernel. A reduction that broadcasts
    // back over its rows may widen once to its input's shape (x * rsqrt(mean(x^2)), x - amax(x)): the kernel
    // then writes every element of each row in a second pass over the row (a row epilogue), as torch.compile
    // fuses such chains; the row is read twice only when it is longer than one tile.
    const ir::Node& an = g.nodes[a - k];
    const bool row_ok = plan.cls[a - k] == NodeClass::kReduction && RowBroadcastable(g, an);
    const ir::Shape& in_shape = g.TypeOf(an.inputs[0]).shape;
    plan.stored[a] = false;
    bool ok = true, widened = false;
    int32_t cur = a;
    while (!plan.stored[cur] && ok) {
      if (consumers[cur].size() != 1) {
        ok = false;
        break;
      }
      cur = *consumers[cur].begin();
      const NodeClass c = plan.cls[cur - k];
      ok = c == NodeClass::kPointwise || c == NodeClass::kAlias;
      const bool at_anchor_size = !widened && Numel(g, cur) == Numel(g, a);
      if (ok && !at_anchor_size) {  // past the anchor's size: only the widening to its input's shape
        ok = row_ok && g.TypeOf(cur).shape == in_shape && Numel(g, cur) != Numel(g, a);
        widened = widened || ok;
      }
    }
    if (ok) {
      int anchors = 0;
      for (int32_t v : KernelTree(g, plan, cur)) anchors += IsAnchor(plan.cls[v - k]) ? 1 : 0;
      ok = anchors == 1 && !(widened && ReadsLibraryOutput(g, plan, cur));
    }
    if (!ok) plan.stored[a] = true;
  }
  if (stop_after == "fuse_epilogues") return plan;

  // ---- group ----
  for (int32_t v = k; v < nv; ++v) {
    if (!plan.stored[v]) continue;
    Kernel kernel;
    kernel.root = v;
    kernel.members = KernelTree(g, plan, v);
    for (int32_t m : kernel.members) {
      const NodeClass c = plan.cls[m - k];
      if (IsAnchor(c)) {
        DRT_ICHECK(kernel.anchor == -1);
        kernel.anchor = m;
        kernel.kind = c == NodeClass::kReduction   ? KernelKind::kReduction
                      : c == NodeClass::kMatmul    ? KernelKind::kMatmul
                                                   : KernelKind::kNormalization;
      }
      if (c == NodeClass::kLibrary || c == NodeClass::kUnsupported) {
        DRT_ICHECK(m == v);
        kernel.kind = KernelKind::kLibrary;
      }
    }
    plan.kernels.push_back(std::move(kernel));
  }
  return plan;
}

std::string DumpPlan(const ir::Graph& g, const FusionPlan& plan) {
  const int32_t k = static_cast<int32_t>(g.inputs.size());
  std::ostringstream os;
  for (int32_t v = 0; v < g.NumValues(); ++v) {
    os << "v" << v << " ";
    const ir::TensorType& t = g.TypeOf(v);
    os << "[";
    for (size_t d = 0; d < t.shape.size(); ++d) os << (d ? "," : "") << t.shape[d];
    os << "] ";
    if (v < k) {
      os << "input";
    } else {
      const ir::Node& n = g.nodes[v - k];
      os << ops::Spec(n.op).name << "(";
      for (size_t i = 0; i < n.inputs.size(); ++i) os << (i ? ", " : "") << "v" << n.inputs[i];
      os << ") " << NodeClassName(plan.cls[v - k]);
      if (!plan.why[v - k].empty()) os << " (" << plan.why[v - k] << ")";
    }
    if (!plan.stored.empty() && plan.stored[v]) os << " stored";
    os << "\n";
  }
  for (size_t i = 0; i < plan.kernels.size(); ++i) {
    const Kernel& kn = plan.kernels[i];
    os << "kernel " << i << ": " << KernelKindName(kn.kind) << " root=v" << kn.root;
    if (kn.anchor >= 0) os << " anchor=v" << kn.anchor;
    os << " ops=[";
    for (size_t j = 0; j < kn.members.size(); ++j) {
      os << (j ? " " : "") << ops::Spec(g.nodes[kn.members[j] - k].op).name;
    }
    os << "]\n";
  }
  return os.str();
}

}  // namespace drtriton::emit
