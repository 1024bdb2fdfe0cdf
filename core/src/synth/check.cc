// Validity and canonicity of a drawn program: shape rules, budgets, fan-out, duplicate nodes, and the
// canonical operand order of commutative operators (the one rejection that makes the sampler count
// each isomorphism class once). Also ProgramKey, the canonical sequence as bytes.
#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

#include "support/check.h"
#include "synth/csp.h"

namespace drtriton::synth {

std::string_view RejectName(Reject reason) {
  switch (reason) {
    case Reject::kShape: return "shape";
    case Reject::kValueRange: return "value_range";
    case Reject::kBudget: return "budget";
    case Reject::kFanout: return "fanout";
    case Reject::kDuplicate: return "duplicate";
    case Reject::kDegenerate: return "degenerate";
    case Reject::kNonCanonical: return "noncanonical";
    case Reject::kCount: break;
  }
  return "?";
}

namespace {

// ---- canonical sequence ----
// The sequence the walk would make for this ordered DAG: Kahn's algorithm from the sink, popping the
// ready node of the lowest class (output rank; the sink first) and FIFO within a class, arguments in
// slot order; a producer is new at its first reference and closed at its last; inputs are numbered
// by first use. `flip[i]` swaps the operands of node i (commutative only). `emit(token)` returns
// false to stop early. Node types must be inferred (Check does it first).
enum Token : int64_t { kNewClosed = -1, kNewOpen = -2, kKeep = -3, kClose = -4, kOldIn = -5, kNewIn = -6 };

template <class Emit>
void Encode(const ir::Graph& graph, const std::vector<uint8_t>& flip, bool rank_classes,
            Emit&& emit) {
  const int k = static_cast<int>(graph.inputs.size());
  const int n = static_cast<int>(graph.nodes.size());
  std::vector<int> refs(n, 0), input_index(k, -1);
  std::vector<uint8_t> seen(n, 0);
  for (const auto& node : graph.nodes) {
    for (int32_t v : node.inputs) {
      if (v >= k) ++refs[v - k];
    }
  }
  DRT_ICHECK(graph.outputs.size() == 1 && graph.outputs[0] >= k);
  const int sink = graph.outputs[0] - k;
  auto cls = [&](int i) {
    if (i == sink) return kSinkClass;
    return rank_classes ? std::min(graph.nodes[i].type.Rank(), kMaxRank) : 0;
  };
  std::vector<int> ready, open;
  ready.reserve(n);
  ready.push_back(sink);
  seen[sink] = 1;
  int inputs_used = 0;
  while (!ready.empty()) {
    size_t pick = 0;
    for (size_t j = 1; j < ready.size(); ++j) {
      if (cls(ready[j]) < cls(ready[pick])) pick = j;
    }
    const int i = ready[pick];
    ready.erase(ready.begin() + static_cast<std::ptrdiff_t>(pick));
    const ir::Node& node = graph.nodes[i];
    if (!emit(static_cast<int64_t>(node.op))) return;
    for (double a : node.attrs) {
      if (!emit(std::bit_cast<int64_t>(a))) return;
    }
    const int arity = static_cast<int>(node.inputs.size());
    for (int s = 0; s < arity; ++s) {
      const int32_t v = node.inputs[flip[i] ? arity - 1 - s : s];
      if (v < k) {
        if (input_index[v] >= 0) {
          if (!emit(kOldIn) || !emit(input_index[v])) return;
          continue;
        }
        input_index[v] = inputs_used++;
        if (!emit(kNewIn) || !emit(static_cast<int64_t>(graph.inputs[v].dtype))) return;
        if (!emit(graph.inputs[v].Rank())) return;
        for (int64_t dim : graph.inputs[v].shape) {
          if (!emit(dim)) return;
        }
        continue;
      }
      const int p = v - k;
      if (!seen[p]) {
        seen[p] = 1;
        // The class of a new node decides when it is materialized, so it is part of the sequence.
        if (--refs[p] == 0) {
          if (!emit(kNewClosed) || !emit(cls(p))) return;
          ready.push_back(p);
        } else {
          if (!emit(kNewOpen) || !emit(cls(p))) return;
          open.push_back(p);
        }
        continue;
      }
      const int64_t pos = std::find(open.begin(), open.end(), p) - open.begin();
      DRT_ICHECK(pos < static_cast<int64_t>(open.size()));  // acyclic, single-sink graphs only
      if (--refs[p] == 0) {
        if (!emit(kClose) || !emit(pos)) return;
        open.erase(open.begin() + pos);
        ready.push_back(p);
      } else {
        if (!emit(kKeep) || !emit(pos)) return;
      }
    }
  }
}

std::vector<int64_t> Tokens(const ir::Graph& graph, const std::vector<uint8_t>& flip,
                            bool rank_classes) {
  std::vector<int64_t> tokens;
  Encode(graph, flip, rank_classes, [&](int64_t t) {
    tokens.push_back(t);
    return true;
  });
  return tokens;
}

// Commutative nodes whose two operands differ: the only flips that change the sequence.
std::vector<int> FlippableNodes(const ir::Graph& graph) {
  std::vector<int> nodes;
  for (int i = 0; i < static_cast<int>(graph.nodes.size()); ++i) {
    const ir::Node& node = graph.nodes[i];
    if (ops::Spec(node.op).commutative && node.inputs[0] != node.inputs[1]) nodes.push_back(i);
  }
  return nodes;
}

// True when some operand order gives a sequence smaller than the identity's.
bool HasSmallerFlip(const ir::Graph& graph, bool rank_classes) {
  const std::vector<int> flippable = FlippableNodes(graph);
  if (flippable.empty()) return false;
  DRT_ICHECK(flippable.size() < 31);
  const std::vector<uint8_t> none(graph.nodes.size(), 0);
  const std::vector<int64_t> reference = Tokens(graph, none, rank_classes);
  std::vector<uint8_t> flip(graph.nodes.size(), 0);
  for (uint32_t mask = 1; mask < (1u << flippable.size()); ++mask) {
    for (size_t b = 0; b < flippable.size(); ++b) flip[flippable[b]] = (mask >> b) & 1;
    int order = 0;  // sign of (flipped - reference) at the first difference
    size_t at = 0;
    Encode(graph, flip, rank_classes, [&](int64_t t) {
      if (at >= reference.size() || t != reference[at]) {
        order = at >= reference.size() ? 1 : (t < reference[at] ? -1 : 1);
        return false;
      }
      ++at;
      return true;
    });
    if (order < 0) return true;
  }
  return false;
}

bool SameNode(const ir::Node& a, const ir::Node& b) {
  if (a.op != b.op || a.attrs != b.attrs) return false;
  if (a.inputs == b.inputs) return true;
  return ops::Spec(a.op).commutative && a.inputs[0] == b.inputs[1] && a.inputs[1] == b.inputs[0];
}

// Right-aligned extents that differ with neither 1: the broadcast of ops/shape.cc fails.
bool NoBroadcast(std::span<const int64_t> a, std::span<const int64_t> b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 1; i <= n; ++i) {
    const int64_t da = a[a.size() - i], db = b[b.size() - i];
    if (da != db && da != 1 && db != 1) return true;
  }
  return false;
}

}  // namespace

bool ExtentsClash(ops::OpId id, std::span<const double> attrs,
                  std::span<const ir::TensorType> inputs) {
  using ops::ShapeRule;
  const ops::OpSpec& spec = ops::Spec(id);
  if (static_cast<int>(inputs.size()) != spec.arity) return false;
  const ir::Shape& x = inputs[0].shape;
  const int rank = static_cast<int>(x.size());
  auto attr = [&](std::string_view name) {
    return static_cast<int64_t>(attrs[static_cast<size_t>(ops::AttrIndex(id, name))]);
  };
  switch (spec.shape) {
    case ShapeRule::kBroadcast:
    case ShapeRule::kBroadcastReduce:
      return NoBroadcast(x, inputs[1].shape);
    case ShapeRule::kLoss:
      return x != inputs[1].shape;
    case ShapeRule::kConcat: {  // every extent but dim's must match
      const ir::Shape& y = inputs[1].shape;
      const int64_t dim = attr("dim");
      if (static_cast<int>(y.size()) != rank || dim < 0 || dim >= rank) return true;
      for (int i = 0; i < rank; ++i) {
        if (i != dim && x[i] != y[i]) return true;
      }
      return false;
    }
    case ShapeRule::kMatmul:
    case ShapeRule::kBmm: {  // inner extents, then batch extents (equal for bmm, broadcast for matmul)
      const ir::Shape& y = inputs[1].shape;
      const int ry = static_cast<int>(y.size());
      if (rank < 2 || ry < 2) return false;  // the rank rule decides
      if (x[rank - 1] != y[ry - 2]) return true;
      const std::span<const int64_t> bx(x.data(), rank - 2), by(y.data(), ry - 2);
      if (spec.shape == ShapeRule::kBmm) {
        return !std::equal(bx.begin(), bx.end(), by.begin(), by.end());
      }
      return NoBroadcast(bx, by);
    }
    case ShapeRule::kSqueeze: {
      const int64_t dim = attr("dim");
      return dim >= 0 && dim < rank && x[dim] != 1;
    }
    case ShapeRule::kUnflatten: {
      const int64_t dim = attr("dim"), size = attr("size");
      return dim >= 0 && dim < rank && size >= 1 && x[dim] % size != 0;
    }
    default:
      return false;
  }
}

bool DegenerateOnOneValue(ops::OpId op) {
  const ops::OpSpec& spec = ops::Spec(op);
  if (spec.arity != 2 || spec.commutative) return false;
  return spec.shape == ops::ShapeRule::kBroadcast || spec.shape == ops::ShapeRule::kLoss ||
         spec.shape == ops::ShapeRule::kBroadcastReduce;
}

std::optional<Reject> SamplerImpl::Check(ir::Graph& graph, bool typed) const {
  const SynthConfig& cfg = config_;
  const int k = static_cast<int>(graph.inputs.size());
  const int n = static_cast<int>(graph.nodes.size());
  // Shapes, dtypes and attrs: every node's rule must accept its inputs.
  std::vector<ir::TensorType>& args = scratch_args_;  // reused: no allocation once warm
  // Value-range classes: graph inputs are arbitrary reals; an operator's input must lie in its domain.
  std::vector<ops::Range>& range = scratch_ranges_;
  range.assign(k + n, ops::Range::kAny);
  std::array<ops::Range, ops::kMaxArity> arg_ranges{};
  ops::Cost total;
  for (int i = 0; i < n; ++i) {
    ir::Node& node = graph.nodes[i];
    args.resize(node.inputs.size());
    for (size_t a = 0; a < node.inputs.size(); ++a) args[a] = graph.TypeOf(node.inputs[a]);
    if (!typed) {
      auto out = ops::InferOutput(node.op, args, node.attrs);
      if (!out || out->Rank() > kMaxRank) return Reject::kShape;  // ranks above 6: not in the space
      node.type = std::move(*out);
    }
    const int arity = static_cast<int>(node.inputs.size());
    for (int a = 0; a < arity; ++a) {
      arg_ranges[a] = range[node.inputs[a]];
      if (!ops::Within(arg_ranges[a], ops::InputDomain(node.op, a, node.attrs))) {
        return Reject::kValueRange;
      }
    }
    range[k + i] = ops::OutputRange(node.op, std::span(arg_ranges.data(), arity), node.attrs);
    // Static degeneracy: a non-commutative binary rule fed one value twice is constant
    // (x - x, x / x, mse_loss(x, x), cosine_similarity(x, x)); docs/SYNTH.md lists the rules.
    if (arity == 2 && node.inputs[0] == node.inputs[1] && DegenerateOnOneValue(node.op)) {
      return Reject::kDegenerate;
    }
    const ops::Cost cost = ops::EstimateCost(node.op, args, node.attrs, node.type);
    total.flops += cost.flops;
    total.bytes += cost.bytes;
  }
  if (total.flops > cfg.max_flops || total.bytes > cfg.max_bytes) return Reject::kBudget;
  std::vector<int>& fanout = scratch_fanout_;
  fanout.assign(n, 0);
  for (const auto& node : graph.nodes) {
    for (int32_t v : node.inputs) {
      if (v >= k && ++fanout[v - k] > cfg.max_fanout) return Reject::kFanout;
    }
  }
  for (int i = 0; i < n; ++i) {
    for (int j = i + 1; j < n; ++j) {
      if (SameNode(graph.nodes[i], graph.nodes[j])) return Reject::kDuplicate;
    }
  }
  if (HasSmallerFlip(graph, cfg.rank_classes)) return Reject::kNonCanonical;
  return std::nullopt;
}

std::string ProgramKey(const ir::Graph& given) {
  // The traversal orders ready nodes by rank: infer the types (left as given where a rule fails).
  ir::Graph graph = given;
  std::vector<ir::TensorType> args;
  for (auto& node : graph.nodes) {
    args.clear();
    for (int32_t v : node.inputs) args.push_back(graph.TypeOf(v));
    if (auto out = ops::InferOutput(node.op, args, node.attrs)) node.type = std::move(*out);
  }
  const std::vector<int> flippable = FlippableNodes(graph);
  DRT_CHECK(flippable.size() < 24, ValueError,
            "ProgramKey: " << flippable.size() << " commutative nodes, too many to canonicalize");
  std::vector<uint8_t> flip(graph.nodes.size(), 0);
  std::vector<int64_t> best = Tokens(graph, flip, true);
  for (uint32_t mask = 1; mask < (1u << flippable.size()); ++mask) {
    for (size_t b = 0; b < flippable.size(); ++b) flip[flippable[b]] = (mask >> b) & 1;
    std::vector<int64_t> tokens = Tokens(graph, flip, true);
    if (tokens < best) best = std::move(tokens);
  }
  std::string key(best.size() * sizeof(int64_t), '\0');
  std::memcpy(key.data(), best.data(), key.size());
  return key;
}

}  // namespace drtriton::synth
