// Python view of the graph IR: _core.Graph (from_json, to_json, canonical_hash, canonicalize,
// cost...) and the PyTorch emitter _core.emit_pytorch (bound here so module.cc needs no extra
// registration).
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/vector.h>

#include <string>

#include "drtriton/emit.h"
#include "drtriton/ir.h"
#include "drtriton/ir_json.h"
#include "support/check.h"

namespace nb = nanobind;

namespace drtriton::bindings {

void BindIr(nb::module_& m) {
  nb::class_<ir::Graph>(
      m, "Graph", "A program DAG; crosses the Python boundary as JSON (docs/ARCHITECTURE.md).")
      .def_static(
          "from_json", [](std::string_view text) { return ir::FromJson(text); }, nb::arg("text"),
          "Parses, infers types and validates; raises _core.ShapeError / _core.ValueError naming "
          "the node.")
      .def(
          "to_json", [](const ir::Graph& g, int indent) { return ir::ToJson(g, indent); },
          nb::arg("indent") = -1)
      .def(
          "canonical_hash", [](const ir::Graph& g) { return ir::CanonicalHash(g); },
          "32 hex digits; equal exactly for isomorphic graphs (same inputs in the same positions).")
      .def("canonicalize", [](const ir::Graph& g) { return ir::Canonicalize(g); })
      .def(
          "cost",
          [](const ir::Graph& g) {
            const ops::Cost c = ir::GraphCost(g);
            nb::dict d;
            d["flops"] = c.flops;
            d["bytes"] = c.bytes;
            return d;
          },
          "{'flops': ..., 'bytes': ...} summed over nodes (bytes as if no two nodes were fused).")
      .def_prop_ro("num_inputs", [](const ir::Graph& g) { return g.inputs.size(); })
      .def_prop_ro("num_nodes", [](const ir::Graph& g) { return g.nodes.size(); })
      .def_prop_ro(
          "ops",
          [](const ir::Graph& g) {
            std::vector<std::string> out;
            for (const ir::Node& n : g.nodes) out.emplace_back(ops::Spec(n.op).name);
            return out;
          },
          "Operator name of each node, in node order.")
      .def_prop_ro(
          "shapes",
          [](const ir::Graph& g) {
            std::vector<std::vector<int64_t>> out;
            for (int32_t v = 0; v < g.NumValues(); ++v) out.push_back(g.TypeOf(v).shape);
            return out;
          },
          "Shape of every value id (inputs first, then nodes).")
      .def_prop_ro("dtypes",
                   [](const ir::Graph& g) {
                     std::vector<std::string> out;
                     for (int32_t v = 0; v < g.NumValues(); ++v)
                       out.emplace_back(ir::DTypeName(g.TypeOf(v).dtype));
                     return out;
                   })
      .def_prop_ro("outputs", [](const ir::Graph& g) { return g.outputs; })
      .def("__eq__", [](const ir::Graph& a, const ir::Graph& b) { return a == b; })
      .def("__repr__", [](const ir::Graph& g) {
        return "Graph(" + std::to_string(g.inputs.size()) + " inputs, " +
               std::to_string(g.nodes.size()) + " nodes)";
      });

  m.def(
      "emit_pytorch",
      [](const ir::Graph& g, const std::string& title,
         const std::vector<std::string>& input_ranges) {
        emit::EmitOptions options;
        options.title = title;
        for (const std::string& r : input_ranges) {
          bool found = false;
          for (ops::Range range :
               {ops::Range::kAny, ops::Range::kNonNeg, ops::Range::kPositive, ops::Range::kUnit}) {
            if (ops::RangeName(range) == r) {
              options.input_ranges.push_back(range);
              found = true;
            }
          }
          DRT_CHECK(found, ValueError,
                    "input range \"" << r << "\" is unknown; use any, non_neg, positive or unit");
        }
        return emit::EmitPyTorch(g, options);
      },
      nb::arg("graph"), nb::arg("title") = "", nb::arg("input_ranges") = std::vector<std::string>{},
      "KernelBench-format program text (Model, get_inputs, get_init_inputs) for `graph`. "
      "input_ranges: per "
      "graph input, 'any' (randn), 'non_neg', 'positive' or 'unit' (shifted rand).");
}

}  // namespace drtriton::bindings
