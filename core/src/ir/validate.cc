// Structural validation of a Graph (ir::Validate) and its roofline cost (ir::GraphCost).
#include <string>

#include "drtriton/ir.h"
#include "support/check.h"

namespace drtriton::ir {
namespace {

std::string ShapeStr(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

void Validate(const Graph& graph) {
  const auto k = static_cast<int32_t>(graph.inputs.size());
  DRT_CHECK(k >= 1, ValueError, "a graph needs at least one input; add one to \"inputs\"");
  for (int32_t i = 0; i < k; ++i) {
    const TensorType& t = graph.inputs[static_cast<size_t>(i)];
    DRT_CHECK(
        t.dtype != DType::kInt64, ShapeError,
        "input " << i << " is int64; graph inputs must be floating (float32, float16, bfloat16)");
    for (int64_t d : t.shape) {
      DRT_CHECK(
          d >= 1, ShapeError,
          "input " << i << " has shape " << ShapeStr(t.shape) << "; every extent must be >= 1");
    }
  }
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const Node& node = graph.nodes[n];
    const int32_t self = k + static_cast<int32_t>(n);
    DRT_CHECK(static_cast<int>(node.op) >= 0 && static_cast<int>(node.op) < ops::kNumOps,
              ValueError, "node " << n << " has unknown op id " << static_cast<int>(node.op));
    const ops::OpSpec& spec = ops::Spec(node.op);
    DRT_CHECK(static_cast<int>(node.inputs.size()) == spec.arity, ValueError,
              "node " << n << " (" << spec.name << ") has " << node.inputs.size()
                      << " inputs; it takes " << spec.arity);
    DRT_CHECK(node.attrs.size() == spec.attrs.size(), ValueError,
              "node " << n << " (" << spec.name << ") has " << node.attrs.size()
                      << " attrs; it takes " << spec.attrs.size() << " (see `drtriton ops`)");
    std::vector<TensorType> in;
    for (int32_t v : node.inputs) {
      DRT_CHECK(v >= 0 && v < self, ValueError,
                "node " << n << " (" << spec.name << ") reads value " << v
                        << ", which is not an input or an earlier node (must be in [0, " << self
                        << ")); order nodes topologically");
      in.push_back(graph.TypeOf(v));
    }
    std::string why;
    auto out = ops::InferOutputExplained(node.op, in, node.attrs, &why);
    DRT_CHECK(out.has_value(), ShapeError, "node " << n << " (" << spec.name << "): " << why);
    DRT_CHECK(*out == node.type, ShapeError,
              "node " << n << " (" << spec.name << ") is typed " << ShapeStr(node.type.shape) << " "
                      << DTypeName(node.type.dtype) << " but its rule gives "
                      << ShapeStr(out->shape) << " " << DTypeName(out->dtype)
                      << "; re-infer the types");
  }
  DRT_CHECK(!graph.outputs.empty(), ValueError,
            "a graph needs at least one output; list value ids in \"outputs\"");
  for (int32_t v : graph.outputs) {
    DRT_CHECK(v >= 0 && v < graph.NumValues(), ValueError,
              "output value " << v << " is out of range [0, " << graph.NumValues() << ")");
  }
}

ops::Cost GraphCost(const Graph& graph) {
  ops::Cost total;
  const auto k = static_cast<int32_t>(graph.inputs.size());
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const Node& node = graph.nodes[n];
    std::vector<TensorType> in;
    for (int32_t v : node.inputs) {
      DRT_ICHECK(v >= 0 && v < k + static_cast<int32_t>(n));
      in.push_back(graph.TypeOf(v));
    }
    const ops::Cost c = ops::EstimateCost(node.op, in, node.attrs, node.type);
    total.flops += c.flops;
    total.bytes += c.bytes;
  }
  return total;
}

}  // namespace drtriton::ir
