// Canonical form and hash: a property test over every small graph of a few ops (every topological
// labelling, every operand order), checked against brute-force isomorphism.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <random>

#include "drtriton/ir.h"
#include "drtriton/ir_json.h"
#include "drtriton/ops.h"

namespace drtriton::ir {
namespace {

using ops::OpId;

TensorType F32(Shape s) { return TensorType{.shape = std::move(s), .dtype = DType::kFloat32}; }

Node MakeNode(const Graph& g, OpId op, std::vector<int32_t> inputs,
              std::vector<double> attrs = {}) {
  std::vector<TensorType> in;
  for (int32_t v : inputs) in.push_back(g.TypeOf(v));
  auto type = ops::InferOutput(op, in, attrs);
  EXPECT_TRUE(type.has_value());
  return Node{.op = op, .inputs = std::move(inputs), .attrs = std::move(attrs), .type = *type};
}

// Every graph over `k` inputs of shape [4, 4] with `nodes` nodes from {relu, sigmoid, add, sub}.
void Enumerate(int k, int nodes, Graph& g, std::vector<Graph>& out) {
  if (static_cast<int>(g.nodes.size()) == nodes) {
    out.push_back(g);
    return;
  }
  const int32_t values = g.NumValues();
  for (OpId op : {OpId::kRelu, OpId::kSigmoid}) {
    for (int32_t a = 0; a < values; ++a) {
      g.nodes.push_back(MakeNode(g, op, {a}));
      Enumerate(k, nodes, g, out);
      g.nodes.pop_back();
    }
  }
  for (OpId op : {OpId::kAdd, OpId::kSub}) {
    for (int32_t a = 0; a < values; ++a) {
      for (int32_t b = 0; b < values; ++b) {
        g.nodes.push_back(MakeNode(g, op, {a, b}));
        Enumerate(k, nodes, g, out);
        g.nodes.pop_back();
      }
    }
  }
}

// Relabels nodes by `perm` (new position of old node i is perm[i]); nullopt if not topological.
std::optional<Graph> Relabel(const Graph& g, const std::vector<int>& perm, bool swap_commutative) {
  const auto k = static_cast<int32_t>(g.inputs.size());
  auto map = [&](int32_t v) { return v < k ? v : k + perm[static_cast<size_t>(v - k)]; };
  Graph out;
  out.inputs = g.inputs;
  out.nodes.resize(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node node = g.nodes[i];
    for (int32_t& v : node.inputs) {
      v = map(v);
      if (v >= k + perm[i]) return std::nullopt;
    }
    if (swap_commutative && ops::Spec(node.op).commutative)
      std::reverse(node.inputs.begin(), node.inputs.end());
    out.nodes[static_cast<size_t>(perm[i])] = std::move(node);
  }
  for (int32_t v : g.outputs) out.outputs.push_back(map(v));
  return out;
}

// Brute force: is there a node bijection mapping a onto b (commutative operands as multisets)?
bool Isomorphic(const Graph& a, const Graph& b) {
  if (a.nodes.size() != b.nodes.size() || a.inputs != b.inputs) return false;
  std::vector<int> perm(a.nodes.size());
  std::iota(perm.begin(), perm.end(), 0);
  const auto k = static_cast<int32_t>(a.inputs.size());
  do {
    auto map = [&](int32_t v) { return v < k ? v : k + perm[static_cast<size_t>(v - k)]; };
    bool ok = true;
    for (size_t i = 0; ok && i < a.nodes.size(); ++i) {
      const Node& x = a.nodes[i];
      const Node& y = b.nodes[static_cast<size_t>(perm[i])];
      std::vector<int32_t> xin;
      for (int32_t v : x.inputs) xin.push_back(map(v));
      std::vector<int32_t> yin = y.inputs;
      if (ops::Spec(x.op).commutative) {
        std::sort(xin.begin(), xin.end());
        std::sort(yin.begin(), yin.end());
      }
      ok = x.op == y.op && x.attrs == y.attrs && x.type == y.type && xin == yin;
    }
    for (size_t o = 0; ok && o < a.outputs.size(); ++o) ok = map(a.outputs[o]) == b.outputs[o];
    if (ok && a.outputs.size() == b.outputs.size()) return true;
  } while (std::next_permutation(perm.begin(), perm.end()));
  return false;
}

std::vector<Graph> SmallSpace(bool two_outputs) {
  std::vector<Graph> all;
  for (int nodes = 1; nodes <= 3; ++nodes) {
    Graph g;
    g.inputs = {F32({4, 4}), F32({4, 4})};
    std::vector<Graph> part;
    Enumerate(2, nodes, g, part);
    for (Graph& p : part) {
      const int32_t last = p.NumValues() - 1;
      p.outputs = two_outputs ? std::vector<int32_t>{2, last} : std::vector<int32_t>{last};
      if (two_outputs && nodes < 2) continue;
      all.push_back(std::move(p));
    }
  }
  return all;
}

void CheckHashIffIsomorphic(bool two_outputs) {
  const std::vector<Graph> space = SmallSpace(two_outputs);
  ASSERT_GT(space.size(), 10000u);
  std::map<std::string, size_t> first_with_hash;
  size_t classes = 0;
  for (size_t i = 0; i < space.size(); ++i) {
    const Graph& g = space[i];
    const std::string h = CanonicalHash(g);
    ASSERT_EQ(h.size(), 32u);
    // Isomorphic => same hash and same canonical Graph: every relabelling and operand order.
    std::vector<int> perm(g.nodes.size());
    std::iota(perm.begin(), perm.end(), 0);
    const Graph canon = Canonicalize(g);
    do {
      for (bool swap : {false, true}) {
        auto r = Relabel(g, perm, swap);
        if (!r) continue;
        ASSERT_EQ(CanonicalHash(*r), h) << ToJson(g);
        ASSERT_EQ(Canonicalize(*r), canon);
      }
    } while (std::next_permutation(perm.begin(), perm.end()));
    // Same hash => isomorphic (so distinct canonical forms get distinct hashes).
    auto [it, fresh] = first_with_hash.emplace(h, i);
    if (fresh) {
      ++classes;
    } else {
      ASSERT_TRUE(Isomorphic(space[it->second], g))
          << "hash collision between non-isomorphic graphs";
    }
  }
  EXPECT_GT(classes, space.size() / 8);  // many genuinely different programs, not one bucket
}

TEST(CanonicalHash, EqualIffIsomorphicOverAllSmallGraphs) { CheckHashIffIsomorphic(false); }

TEST(CanonicalHash, EqualIffIsomorphicWithTwoOrderedOutputs) { CheckHashIffIsomorphic(true); }

TEST(Canonicalize, KeepsTheGraphValidAndIsIdempotent) {
  Graph g;
  g.inputs = {F32({4, 8})};
  g.nodes.push_back(MakeNode(g, OpId::kRelu, {0}));
  g.nodes.push_back(MakeNode(g, OpId::kSigmoid, {0}));
  g.nodes.push_back(MakeNode(g, OpId::kAdd, {1, 2}));
  g.nodes.push_back(MakeNode(g, OpId::kSum, {3}, {1, 0}));
  g.outputs = {4};
  const Graph c = Canonicalize(g);
  EXPECT_NO_THROW(Validate(c));
  EXPECT_EQ(Canonicalize(c), c);
  EXPECT_EQ(CanonicalHash(c), CanonicalHash(g));
}

TEST(CanonicalHash, SeparatesAttrsShapesAndInputPositions) {
  auto build = [](Shape s, double dim, bool swap_inputs) {
    Graph g;
    g.inputs = {F32(s), F32({4, 8})};
    g.nodes.push_back(MakeNode(
        g, OpId::kSub, swap_inputs ? std::vector<int32_t>{1, 0} : std::vector<int32_t>{0, 1}));
    g.nodes.push_back(MakeNode(g, OpId::kSum, {2}, {dim, 0}));
    g.outputs = {3};
    return g;
  };
  const std::string base = CanonicalHash(build({4, 8}, 1, false));
  EXPECT_NE(base, CanonicalHash(build({4, 8}, 0, false)));
  EXPECT_NE(base, CanonicalHash(build({1, 8}, 1, false)));
  EXPECT_NE(base, CanonicalHash(build({4, 8}, 1, true)));
}

TEST(CanonicalHash, InterchangeableBranchesWithDifferentConsumersAgree) {
  // x -> relu a, relu b; a -> sin, b -> cos: a and b compute the same thing but are used
  // differently.
  auto build = [](bool flip) {
    Graph g;
    g.inputs = {F32({3, 5})};
    g.nodes.push_back(MakeNode(g, OpId::kRelu, {0}));
    g.nodes.push_back(MakeNode(g, OpId::kRelu, {0}));
    g.nodes.push_back(MakeNode(g, OpId::kSin, {flip ? 2 : 1}));
    g.nodes.push_back(MakeNode(g, OpId::kCos, {flip ? 1 : 2}));
    g.outputs = {3, 4};
    return g;
  };
  EXPECT_EQ(Canonicalize(build(false)), Canonicalize(build(true)));
}

TEST(GraphCost, SumsNodeCosts) {
  Graph g;
  g.inputs = {F32({8, 16})};
  g.nodes.push_back(MakeNode(g, OpId::kLinear, {0}, {32, 0}));
  g.nodes.push_back(MakeNode(g, OpId::kRelu, {1}));
  g.outputs = {2};
  const ops::Cost c = GraphCost(g);
  EXPECT_DOUBLE_EQ(c.flops, 2.0 * 8 * 16 * 32 + 8 * 32);
  EXPECT_DOUBLE_EQ(c.bytes, 4.0 * (8 * 16 + 8 * 32 + 16 * 32) + 4.0 * 2 * 8 * 32);
}

TEST(Validate, RejectsWrongTypesAndForwardReferences) {
  Graph g;
  g.inputs = {F32({4, 8})};
  g.nodes.push_back(MakeNode(g, OpId::kRelu, {0}));
  g.outputs = {1};
  EXPECT_NO_THROW(Validate(g));
  Graph bad_type = g;
  bad_type.nodes[0].type.shape = {4, 9};
  EXPECT_THROW(Validate(bad_type), ShapeError);
  Graph forward = g;
  forward.nodes[0].inputs = {1};
  EXPECT_THROW(Validate(forward), ValueError);
  Graph no_out = g;
  no_out.outputs.clear();
  EXPECT_THROW(Validate(no_out), ValueError);
}

}  // namespace
}  // namespace drtriton::ir
