// Canonical form of a graph (ir::Canonicalize) and its 128-bit hash (ir::CanonicalHash).
//
// Canonical labelling by colour refinement with individualization (the nauty idea, for DAGs with
// ports):
//   1. colour every value by what it computes (op, attrs, type, operand colours; graph inputs by
//   position);
//   2. refine: add to each colour its operand colours and the multiset of (consumer colour,
//   argument
//      port) plus its output positions, until the number of colours stops growing;
//   3. while two nodes share a colour, try each of them as "first" (individualize, refine again)
//   and keep
//      the lexicographically smallest result;
//   4. with all colours distinct, emit nodes in Kahn order taking the ready node of smallest
//   colour.
// Isomorphic graphs (same inputs in the same positions) get equal canonical Graphs. Search in step
// 3 is capped at kMaxLeaves; past it the first member of each tied class is taken (only graphs with
// many interchangeable-but-not-automorphic branches could reach it).
#include <algorithm>
#include <array>
#include <queue>

#include "drtriton/ir.h"
#include "support/check.h"
#include "support/hash.h"

namespace drtriton::ir {
namespace {

using support::Combine;

constexpr uint64_t kInputTag = 0x1f2e3d4c5b6a7988ULL;
constexpr uint64_t kOutputTag = 0x7a6b5c4d3e2f1009ULL;
constexpr uint64_t kIndividualTag = 0x5555aaaa3333ccccULL;
constexpr int kMaxLeaves = 4096;

uint64_t TypeKey(const TensorType& t) {
  uint64_t h = Combine(static_cast<uint64_t>(t.dtype), t.shape.size());
  for (int64_t d : t.shape) h = Combine(h, static_cast<uint64_t>(d));
  return h;
}

struct Use {
  int32_t consumer;  // value id of the consuming node
  int32_t port;      // argument position, or -1 for commutative operands
};

class Labeller {
 public:
  explicit Labeller(const Graph& g)
      : g_(g), k_(static_cast<int32_t>(g.inputs.size())), n_(g.NumValues()) {
    uses_.resize(static_cast<size_t>(n_));
    out_pos_.resize(static_cast<size_t>(n_));
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      const Node& node = g.nodes[i];
      const bool comm = ops::Spec(node.op).commutative;
      for (size_t a = 0; a < node.inputs.size(); ++a) {
        uses_[static_cast<size_t>(node.inputs[a])].push_back(
            {k_ + static_cast<int32_t>(i), comm ? -1 : static_cast<int32_t>(a)});
      }
    }
    for (size_t o = 0; o < g.outputs.size(); ++o)
      out_pos_[static_cast<size_t>(g.outputs[o])].push_back(o);
  }

  Graph Run() {
    std::vector<uint64_t> colour(static_cast<size_t>(n_));
    for (int32_t v = 0; v < n_; ++v) colour[static_cast<size_t>(v)] = InitialColour(v, colour);
    Refine(colour);
    Search(colour);
    DRT_ICHECK(best_.has_value());
    return std::move(*best_);
  }

 private:
  uint64_t InitialColour(int32_t v, const std::vector<uint64_t>& colour) const {
    if (v < k_) return Combine(kInputTag, static_cast<uint64_t>(v));
    const Node& node = g_.nodes[static_cast<size_t>(v - k_)];
    uint64_t h = Combine(static_cast<uint64_t>(node.op) + 1, TypeKey(node.type));
    for (double a : node.attrs) h = Combine(h, support::DoubleBits(a));
    return Combine(h, OperandKey(node, colour));
  }

  // Allocation-free: this runs in the synthesizer's hot loop (arity <= ops::kMaxArity).
  uint64_t OperandKey(const Node& node, const std::vector<uint64_t>& colour) const {
    std::array<uint64_t, ops::kMaxArity> in{};
    const size_t arity = std::min(node.inputs.size(), in.size());
    for (size_t a = 0; a < arity; ++a) in[a] = colour[static_cast<size_t>(node.inputs[a])];
    if (ops::Spec(node.op).commutative) std::sort(in.begin(), in.begin() + arity);
    uint64_t h = 0x31415926ULL;
    for (size_t a = 0; a < arity; ++a) h = Combine(h, in[a]);
    return h;
  }

  size_t NumClasses(const std::vector<uint64_t>& colour) const {
    scratch_.assign(colour.begin(), colour.end());
    std::sort(scratch_.begin(), scratch_.end());
    return static_cast<size_t>(std::unique(scratch_.begin(), scratch_.end()) - scratch_.begin());
  }

  void Refine(std::vector<uint64_t>& colour) const {
    size_t classes = NumClasses(colour);
    std::vector<uint64_t> next(colour.size());
    for (int round = 0; round <= n_; ++round) {
      for (int32_t v = 0; v < n_; ++v) {
        uint64_t h = colour[static_cast<size_t>(v)];
        if (v >= k_) h = Combine(h, OperandKey(g_.nodes[static_cast<size_t>(v - k_)], colour));
        std::vector<uint64_t>& use_keys = use_keys_;
        use_keys.clear();
        for (const Use& u : uses_[static_cast<size_t>(v)]) {
          use_keys.push_back(
              Combine(colour[static_cast<size_t>(u.consumer)], static_cast<uint64_t>(u.port + 1)));
        }
        for (size_t o : out_pos_[static_cast<size_t>(v)])
          use_keys.push_back(Combine(kOutputTag, o));
        std::sort(use_keys.begin(), use_keys.end());
        for (uint64_t key : use_keys) h = Combine(h, key);
        next[static_cast<size_t>(v)] = h;
      }
      const size_t next_classes = NumClasses(next);
      colour.swap(next);
      if (next_classes == classes) return;
      classes = next_classes;
    }
  }

  void Search(const std::vector<uint64_t>& colour) {
    // The tied class with the smallest colour (inputs are always distinct).
    std::vector<std::pair<uint64_t, int32_t>> order;
    order.reserve(static_cast<size_t>(n_ - k_));
    for (int32_t v = k_; v < n_; ++v) order.emplace_back(colour[static_cast<size_t>(v)], v);
    std::sort(order.begin(), order.end());
    std::vector<int32_t> tied_members;
    for (size_t i = 0; i + 1 < order.size() && tied_members.empty(); ++i) {
      if (order[i].first != order[i + 1].first) continue;
      for (size_t j = i; j < order.size() && order[j].first == order[i].first; ++j) {
        tied_members.push_back(order[j].second);
      }
    }
    const std::vector<int32_t>* tied = tied_members.empty() ? nullptr : &tied_members;
    if (tied == nullptr) {
      ++leaves_;
      Graph candidate = Emit(colour);
      if (!best_ || Less(candidate, *best_)) best_ = std::move(candidate);
      return;
    }
    for (int32_t v : *tied) {
      std::vector<uint64_t> next = colour;
      next[static_cast<size_t>(v)] = Combine(next[static_cast<size_t>(v)], kIndividualTag);
      Refine(next);
      Search(next);
      if (leaves_ >= kMaxLeaves) return;
    }
  }

  Graph Emit(const std::vector<uint64_t>& colour) const {
    const size_t m = g_.nodes.size();
    std::vector<int> pending(m, 0);
    std::vector<std::vector<int32_t>> consumers(m);
    for (size_t i = 0; i < m; ++i) {
      for (int32_t v : g_.nodes[i].inputs) {
        if (v >= k_) {
          ++pending[i];
          consumers[static_cast<size_t>(v - k_)].push_back(static_cast<int32_t>(i));
        }
      }
    }
    using Ready = std::pair<uint64_t, int32_t>;
    std::priority_queue<Ready, std::vector<Ready>, std::greater<>> ready;
    for (size_t i = 0; i < m; ++i) {
      if (pending[i] == 0)
        ready.push({colour[static_cast<size_t>(k_) + i], static_cast<int32_t>(i)});
    }
    std::vector<int32_t> new_id(static_cast<size_t>(n_));
    for (int32_t v = 0; v < k_; ++v) new_id[static_cast<size_t>(v)] = v;
    std::vector<int32_t> order;
    while (!ready.empty()) {
      const int32_t i = ready.top().second;
      ready.pop();
      new_id[static_cast<size_t>(k_ + i)] = k_ + static_cast<int32_t>(order.size());
      order.push_back(i);
      for (int32_t c : consumers[static_cast<size_t>(i)]) {
        if (--pending[static_cast<size_t>(c)] == 0)
          ready.push({colour[static_cast<size_t>(k_ + c)], c});
      }
    }
    DRT_ICHECK(order.size() == m);
    Graph out;
    out.inputs = g_.inputs;
    for (int32_t i : order) {
      Node node = g_.nodes[static_cast<size_t>(i)];
      for (int32_t& v : node.inputs) v = new_id[static_cast<size_t>(v)];
      if (ops::Spec(node.op).commutative) std::sort(node.inputs.begin(), node.inputs.end());
      out.nodes.push_back(std::move(node));
    }
    for (int32_t v : g_.outputs) out.outputs.push_back(new_id[static_cast<size_t>(v)]);
    return out;
  }

  static bool Less(const Graph& a, const Graph& b) {
    for (size_t i = 0; i < a.nodes.size(); ++i) {
      const Node& x = a.nodes[i];
      const Node& y = b.nodes[i];
      if (x.op != y.op) return x.op < y.op;
      if (x.inputs != y.inputs) return x.inputs < y.inputs;
      if (x.attrs != y.attrs) return x.attrs < y.attrs;
      if (x.type.shape != y.type.shape) return x.type.shape < y.type.shape;
      if (x.type.dtype != y.type.dtype) return x.type.dtype < y.type.dtype;
    }
    return a.outputs < b.outputs;
  }

  const Graph& g_;
  const int32_t k_;
  const int32_t n_;
  std::vector<std::vector<Use>> uses_;
  std::vector<std::vector<size_t>> out_pos_;
  std::optional<Graph> best_;
  int leaves_ = 0;
  mutable std::vector<uint64_t> scratch_;   // NumClasses
  mutable std::vector<uint64_t> use_keys_;  // Refine
};

}  // namespace

Graph Canonicalize(const Graph& graph) {
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (int32_t v : graph.nodes[i].inputs) {
      DRT_CHECK(v >= 0 && v < static_cast<int32_t>(graph.inputs.size() + i), ValueError,
                "node " << i << " reads value " << v
                        << " that is not defined before it; run Validate first");
    }
  }
  for (int32_t v : graph.outputs) {
    DRT_CHECK(v >= 0 && v < graph.NumValues(), ValueError,
              "output value " << v << " is out of range");
  }
  return Labeller(graph).Run();
}

std::string CanonicalHash(const Graph& graph) {
  const Graph c = Canonicalize(graph);
  support::Hasher128 h;
  h.Add(c.inputs.size());
  for (const TensorType& t : c.inputs) {
    h.Add(static_cast<uint64_t>(t.dtype));
    h.Add(t.shape.size());
    for (int64_t d : t.shape) h.Add(static_cast<uint64_t>(d));
  }
  h.Add(c.nodes.size());
  for (const Node& node : c.nodes) {
    h.Add(static_cast<uint64_t>(node.op));
    h.Add(node.inputs.size());
    for (int32_t v : node.inputs) h.Add(static_cast<uint64_t>(v));
    h.Add(node.attrs.size());
    for (double a : node.attrs) h.AddDouble(a);
    h.Add(static_cast<uint64_t>(node.type.dtype));
    h.Add(node.type.shape.size());
    for (int64_t d : node.type.shape) h.Add(static_cast<uint64_t>(d));
  }
  h.Add(c.outputs.size());
  for (int32_t v : c.outputs) h.Add(static_cast<uint64_t>(v));
  return h.Hex();
}

}  // namespace drtriton::ir
