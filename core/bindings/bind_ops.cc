// Python view of the operator registry: _core.ops(), _core.op(name), _core.infer_shape(...).
#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/vector.h>

#include "drtriton/ir.h"
#include "drtriton/ops.h"
#include "support/check.h"

namespace nb = nanobind;

namespace drtriton::bindings {
namespace {

std::string_view AttrKindName(ops::AttrKind kind) {
  switch (kind) {
    case ops::AttrKind::kInt:
      return "int";
    case ops::AttrKind::kFloat:
      return "float";
    case ops::AttrKind::kBool:
      return "bool";
    case ops::AttrKind::kEnum:
      return "enum";
    case ops::AttrKind::kAxis:
      return "axis";
  }
  return "?";
}

std::string_view PadName(ops::PadValue pad) {
  switch (pad) {
    case ops::PadValue::kZero:
      return "zero";
    case ops::PadValue::kOne:
      return "one";
    case ops::PadValue::kNegInf:
      return "-inf";
    case ops::PadValue::kPosInf:
      return "+inf";
  }
  return "?";
}

const ops::OpSpec& Lookup(std::string_view name) {
  auto id = ops::FindOp(name);
  DRT_CHECK(id.has_value(), ValueError,
            "unknown operator \"" << name << "\"; `drtriton ops` lists them");
  return ops::Spec(*id);
}

}  // namespace

void BindOps(nb::module_& m) {
  nb::class_<ops::AttrSpec>(m, "AttrSpec", "One attribute of an operator and its synthesis domain.")
      .def_prop_ro("name", [](const ops::AttrSpec& a) { return std::string(a.name); })
      .def_prop_ro("kind", [](const ops::AttrSpec& a) { return std::string(AttrKindName(a.kind)); })
      .def_prop_ro("choices",
                   [](const ops::AttrSpec& a) {
                     return std::vector<double>(a.choices.begin(), a.choices.end());
                   })
      .def_prop_ro("enum_names",
                   [](const ops::AttrSpec& a) {
                     return std::vector<std::string>(a.enum_names.begin(), a.enum_names.end());
                   })
      .def("__repr__", [](const ops::AttrSpec& a) {
        return "AttrSpec(" + std::string(a.name) + ": " + std::string(AttrKindName(a.kind)) + ")";
      });

  nb::class_<ops::OpSpec>(m, "OpSpec", "One registry row (read-only).")
      .def_prop_ro("name", [](const ops::OpSpec& s) { return std::string(s.name); })
      .def_prop_ro("index", [](const ops::OpSpec& s) { return static_cast<int>(s.id); })
      .def_prop_ro("torch", [](const ops::OpSpec& s) { return std::string(s.torch); })
      .def_prop_ro("module", [](const ops::OpSpec& s) { return std::string(s.module); })
      .def_prop_ro("init", [](const ops::OpSpec& s) { return std::string(s.init); })
      .def_prop_ro("arity", [](const ops::OpSpec& s) { return s.arity; })
      .def_prop_ro("attrs",
                   [](const ops::OpSpec& s) {
                     return std::vector<ops::AttrSpec>(s.attrs.begin(), s.attrs.end());
                   })
      .def_prop_ro("shape_rule",
                   [](const ops::OpSpec& s) { return std::string(ops::ShapeRuleName(s.shape)); })
      .def_prop_ro(
          "dtype_rule",
          [](const ops::OpSpec& s) {
            return std::string(s.dtype == ops::DtypeRule::kIndexOut ? "index_out" : "float_only");
          })
      .def_prop_ro("lowering",
                   [](const ops::OpSpec& s) { return std::string(ops::LoweringName(s.lowering)); })
      .def_prop_ro("commutative", [](const ops::OpSpec& s) { return s.commutative; })
      .def_prop_ro("heavy", [](const ops::OpSpec& s) { return s.heavy; })
      .def_prop_ro("reduces", [](const ops::OpSpec& s) { return s.reduces; })
      .def_prop_ro("spatial", [](const ops::OpSpec& s) { return static_cast<int>(s.spatial); })
      .def_prop_ro("min_rank", [](const ops::OpSpec& s) { return static_cast<int>(s.min_rank); })
      .def_prop_ro("max_rank", [](const ops::OpSpec& s) { return static_cast<int>(s.max_rank); })
      .def_prop_ro("domain",
                   [](const ops::OpSpec& s) {
                     std::vector<std::string> out;
                     for (int i = 0; i < s.arity; ++i)
                       out.emplace_back(ops::RangeName(s.domain[static_cast<size_t>(i)]));
                     return out;
                   })
      .def_prop_ro("range_rule",
                   [](const ops::OpSpec& s) { return std::string(ops::RangeRuleName(s.range)); })
      .def_prop_ro("flops_per_elem", [](const ops::OpSpec& s) { return s.flops_per_elem; })
      .def_prop_ro("pad", [](const ops::OpSpec& s) { return std::string(PadName(s.pad)); })
      .def("__repr__", [](const ops::OpSpec& s) { return "OpSpec(" + std::string(s.name) + ")"; });

  m.def(
      "ops",
      [] {
        auto rows = ops::Registry();
        return std::vector<ops::OpSpec>(rows.begin(), rows.end());
      },
      "Every registry row, in registry order.");
  m.def(
      "op", [](std::string_view name) { return Lookup(name); }, nb::arg("name"),
      "The row of one operator; raises _core.ValueError when the name is unknown.");
  m.def(
      "infer_shape",
      [](std::string_view name, const std::vector<std::vector<int64_t>>& shapes,
         const std::vector<double>& attrs) {
        const ops::OpSpec& spec = Lookup(name);
        std::vector<ir::TensorType> in;
        for (const auto& s : shapes)
          in.push_back(ir::TensorType{.shape = s, .dtype = ir::DType::kFloat32});
        std::string why;
        auto out = ops::InferOutputExplained(spec.id, in, attrs, &why);
        DRT_CHECK(out.has_value(), ShapeError, why);
        return out->shape;
      },
      nb::arg("op"), nb::arg("shapes"), nb::arg("attrs"),
      "Output shape of `op` on float32 inputs of `shapes` with `attrs` (aligned with "
      "op(name).attrs); "
      "raises _core.ShapeError saying which constraint failed.");

  auto parse_range = [](const std::string& r) {
    for (ops::Range range :
         {ops::Range::kAny, ops::Range::kNonNeg, ops::Range::kPositive, ops::Range::kUnit}) {
      if (ops::RangeName(range) == r) return range;
    }
    DRT_CHECK(false, ValueError,
              "range \"" << r << "\" is unknown; use any, non_neg, positive or unit");
    return ops::Range::kAny;
  };
  m.def(
      "input_domain",
      [](std::string_view name, int arg, const std::vector<double>& attrs) {
        return std::string(ops::RangeName(ops::InputDomain(Lookup(name).id, arg, attrs)));
      },
      nb::arg("op"), nb::arg("arg"), nb::arg("attrs"),
      "Range class ('any', 'non_neg', 'positive', 'unit') input `arg` of `op` must lie in, given "
      "attrs.");
  m.def(
      "output_range",
      [parse_range](std::string_view name, const std::vector<std::string>& inputs,
                    const std::vector<double>& attrs) {
        std::vector<ops::Range> in;
        for (const std::string& r : inputs) in.push_back(parse_range(r));
        return std::string(ops::RangeName(ops::OutputRange(Lookup(name).id, in, attrs)));
      },
      nb::arg("op"), nb::arg("inputs"), nb::arg("attrs"),
      "Range class of the output of `op` given its inputs' classes and attrs.");
}

}  // namespace drtriton::bindings
