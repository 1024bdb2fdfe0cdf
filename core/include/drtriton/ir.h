// Graph IR: a program is a DAG of operator applications over statically typed tensors.
// Value ids: 0..inputs.size()-1 are the graph inputs (forward's positional arguments, in order);
// inputs.size()+i is the output of nodes[i]. Nodes are stored in a topological order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "drtriton/error.h"
#include "drtriton/ops.h"

namespace drtriton::ir {

enum class DType : uint8_t { kFloat32, kFloat16, kBFloat16, kInt64 };

/// "float32", "float16", "bfloat16", "int64" (the torch.<name> spelling).
std::string_view DTypeName(DType dtype);

using Shape = std::vector<int64_t>;

struct TensorType {
  Shape shape;
  DType dtype = DType::kFloat32;

  int64_t Numel() const;
  int Rank() const { return static_cast<int>(shape.size()); }
  friend bool operator==(const TensorType&, const TensorType&) = default;
};

/// One operator application. `attrs` is aligned with ops::Spec(op).attrs.
struct Node {
  ops::OpId op{};
  std::vector<int32_t> inputs;  // value ids, in argument order
  std::vector<double> attrs;
  TensorType type;  // inferred output type

  friend bool operator==(const Node&, const Node&) = default;
};

struct Graph {
  std::vector<TensorType> inputs;
  std::vector<Node> nodes;
  std::vector<int32_t> outputs;  // value ids returned by forward, in order (usually one)

  int NumValues() const { return static_cast<int>(inputs.size() + nodes.size()); }
  const TensorType& TypeOf(int32_t value) const;
  friend bool operator==(const Graph&, const Graph&) = default;
};

/// Checks the structural invariants (ids in range, topological order, arity, attrs size, types
/// equal to what InferOutput gives). Throws drtriton::ShapeError / ValueError naming the offending
/// node.
void Validate(const Graph& graph);

/// Relabels nodes into the canonical topological order, with commutative operands sorted, so that
/// two isomorphic graphs (same inputs in the same positions) become equal. Nodes no output depends
/// on are kept (they are part of the program) and ordered canonically too.
Graph Canonicalize(const Graph& graph);

/// 128-bit hash of the canonical form, as 32 lowercase hex digits. Isomorphic graphs get the same
/// hash; graphs that differ in any op, attr, wiring, type or output get different ones (up to
/// collisions).
std::string CanonicalHash(const Graph& graph);

/// Total FLOPs and bytes (ops::EstimateCost summed over nodes).
ops::Cost GraphCost(const Graph& graph);

}  // namespace drtriton::ir
