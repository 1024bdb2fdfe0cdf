// Per-operator Triton spellings for the code generator (see triton_ops.h).
#include "emit/triton_ops.h"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "drtriton/ops.h"

namespace drtriton::emit {
namespace {

std::string_view NameOf(const ir::Node& node) { return ops::Spec(node.op).name; }

// First attribute among `names` that the row declares; `fallback` when none does.
double AnyAttr(const ir::Node& node, std::initializer_list<std::string_view> names, double fallback) {
  for (std::string_view name : names) {
    if (HasAttr(node, name)) return AttrOr(node, name, fallback);
  }
  return fallback;
}

// tanh through exp: Triton 3.6 has no portable tl.tanh; 1 - 2/(e^{2x}+1) saturates cleanly at ±1. Near 0
// that form cancels (absolute error ~1e-7, so relative error 1e-3 at x = 1e-4, which a downstream
// normalization amplifies): |x| < 0.1 uses the odd Taylor series to x^7 (truncation below 1e-9 relative).
std::string Tanh(const std::string& x) {
  const std::string x2 = "(" + x + " * " + x + ")";
  return "tl.where(tl.abs(" + x + ") < 0.1, " + x + " * (1.0 - " + x2 + " * (0.3333333333333333 - " + x2 +
         " * (0.13333333333333333 - " + x2 + " * 0.05396825396825397))), 1.0 - 2.0 / (tl.exp(2.0 * " + x +
         ") + 1.0))";
}
std::string Sigmoid(const std::string& x) { return "(1.0 / (1.0 + tl.exp(-" + x + ")))"; }
// softplus with torch's overflow guard: x when beta*x > threshold.
std::string Softplus(const std::string& x, double beta, double threshold) {
  std::string bx = "(" + FloatLit(beta) + " * " + x + ")";
  return "tl.where(" + bx + " > " + FloatLit(threshold) + ", " + x + ", tl.log(1.0 + tl.exp(tl.minimum(" +
         bx + ", " + FloatLit(threshold) + "))) / " + FloatLit(beta) + ")";
}

}  // namespace

bool HasAttr(const ir::Node& node, std::string_view name) {
  for (const ops::AttrSpec& spec : ops::Spec(node.op).attrs) {
    if (spec.name == name) return true;
  }
  return false;
}

double AttrOr(const ir::Node& node, std::string_view name, double fallback) {
  const auto attrs = ops::Spec(node.op).attrs;
  for (size_t i = 0; i < attrs.size() && i < node.attrs.size(); ++i) {
    if (attrs[i].name == name) return node.attrs[i];
  }
  return fallback;
}

std::string EnumAttrOr(const ir::Node& node, std::string_view name, std::string_view fallback) {
  const auto attrs = ops::Spec(node.op).attrs;
  for (size_t i = 0; i < attrs.size() && i < node.attrs.size(); ++i) {
    if (attrs[i].name != name) continue;
    const auto index = static_cast<size_t>(node.attrs[i]);
    if (index < attrs[i].enum_names.size()) return std::string(attrs[i].enum_names[index]);
  }
  return std::string(fallback);
}

std::string FloatLit(double value) {
  if (std::isnan(value)) return "float('nan')";
  if (std::isinf(value)) return value > 0 ? "float('inf')" : "float('-inf')";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.9g", value);
  std::string s(buf);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

std::optional<std::string> PointwiseFormula(const ir::Node& node, const std::vector<std::string>& args) {
  const std::string_view op = NameOf(node);
  const std::string a = args.empty() ? "" : args[0];
  const std::string b = args.size() > 1 ? args[1] : "";
  // ---- binary ----
  if (op == "add") return a + " + " + b;
  if (op == "sub") return a + " - " + b;
  if (op == "mul") return a + " * " + b;
  if (op == "div") return a + " / " + b;
  if (op == "maximum") return "tl.maximum(" + a + ", " + b + ")";
  if (op == "minimum") return "tl.minimum(" + a + ", " + b + ")";
  // ---- tensor-scalar ----
  const double scalar = AnyAttr(node, {"other", "value", "scalar"}, 0.0);
  if (op == "add_scalar") return a + " + " + FloatLit(scalar);
  if (op == "sub_scalar") return a + " - " + FloatLit(scalar);
  if (op == "rsub_scalar") return FloatLit(scalar) + " - " + a;
  if (op == "mul_scalar") return a + " * " + FloatLit(scalar);
  if (op == "div_scalar") return a + " / " + FloatLit(scalar);
  if (op == "pow_scalar") {
    const double e = AnyAttr(node, {"exponent", "value", "scalar"}, 1.0);
    if (e == 2.0) return a + " * " + a;
    if (e == 3.0) return a + " * " + a + " * " + a;
    if (e == 0.5) return "tl.sqrt(" + a + ")";
    return "tl.exp(" + FloatLit(e) + " * tl.log(" + a + "))";
  }
  // ---- unary math ----
  if (op == "neg") return "-" + a;
  if (op == "abs") return "tl.abs(" + a + ")";
  if (op == "exp") return "tl.exp(" + a + ")";
  if (op == "log") return "tl.log(" + a + ")";
  if (op == "sqrt") return "tl.sqrt(" + a + ")";
  if (op == "rsqrt") return "tl.rsqrt(" + a + ")";
  if (op == "sin") return "tl.sin(" + a + ")";
  if (op == "cos") return "tl.cos(" + a + ")";
  if (op == "square") return a + " * " + a;
  if (op == "reciprocal") return "1.0 / " + a;
  if (op == "erf") return "tl.math.erf(" + a + ")";
  // ---- activations ----
  if (op == "relu") return "tl.maximum(" + a + ", 0.0)";
  if (op == "relu6") return "tl.minimum(tl.maximum(" + a + ", 0.0), 6.0)";
  if (op == "sigmoid") return Sigmoid(a);
  if (op == "tanh") return Tanh(a);
  if (op == "silu" || op == "swish") return a + " * " + Sigmoid(a);
  if (op == "gelu") {
    if (EnumAttrOr(node, "approximate", "none") == "tanh") {
      return "0.5 * " + a + " * (1.0 + " +
             Tanh("0.7978845608028654 * (" + a + " + 0.044715 * " + a + " * " + a + " * " + a + ")") + ")";
    }
    return "0.5 * " + a + " * (1.0 + tl.math.erf(" + a + " * 0.7071067811865476))";
  }
  if (op == "softplus") {
    return Softplus(a, AttrOr(node, "beta", 1.0), AttrOr(node, "threshold", 20.0));
  }
  if (op == "mish") return a + " * " + Tanh(Softplus(a, 1.0, 20.0));
  if (op == "hardswish") return a + " * tl.minimum(tl.maximum(" + a + " + 3.0, 0.0), 6.0) / 6.0";
  if (op == "hardsigmoid") return "tl.minimum(tl.maximum(" + a + " + 3.0, 0.0), 6.0) / 6.0";
  if (op == "leaky_relu") {
    return "tl.where(" + a + " > 0.0, " + a + ", " + a + " * " +
           FloatLit(AttrOr(node, "negative_slope", 0.01)) + ")";
  }
  if (op == "elu" || op == "celu") {
    const double alpha = AttrOr(node, "alpha", 1.0);
    const std::string inner = op == "celu" ? a + " / " + FloatLit(alpha) : a;
    return "tl.where(" + a + " > 0.0, " + a + ", " + FloatLit(alpha) + " * (tl.exp(" + inner +
           ") - 1.0))";
  }
  if (op == "selu") {
    return "1.0507009873554805 * tl.where(" + a + " > 0.0, " + a +
           ", 1.6732632423543772 * (tl.exp(" + a + ") - 1.0))";
  }
  if (op == "logsigmoid") return "tl.minimum(" + a + ", 0.0) - tl.log(1.0 + tl.exp(-tl.abs(" + a + ")))";
  if (op == "tanhshrink") return a + " - " + Tanh(a);
  if (op == "hardshrink" || op == "softshrink") {
    const std::string l = FloatLit(AttrOr(node, "lambd", 0.5));
    if (op == "hardshrink") return "tl.where(tl.abs(" + a + ") > " + l + ", " + a + ", 0.0)";
    return "tl.where(" + a + " > " + l + ", " + a + " - " + l + ", tl.where(" + a + " < -" + l + ", " + a +
           " + " + l + ", 0.0))";
  }
  if (op == "softsign") return a + " / (1.0 + tl.abs(" + a + "))";
  if (op == "hardtanh" || op == "clamp") {
    const double lo = AnyAttr(node, {"min_val", "min"}, op == "hardtanh" ? -1.0 : -INFINITY);
    const double hi = AnyAttr(node, {"max_val", "max"}, op == "hardtanh" ? 1.0 : INFINITY);
    std::string e = a;
    if (!std::isinf(lo)) e = "tl.maximum(" + e + ", " + FloatLit(lo) + ")";
    if (!std::isinf(hi)) e = "tl.minimum(" + e + ", " + FloatLit(hi) + ")";
    return e;
  }
  // Dropout is the identity in eval mode and at p = 0, which is what the registry admits.
  if (op == "dropout" || op == "identity") return a;
  return std::nullopt;
}

bool IsFlatAlias(const ir::Node& node) {
  const std::string_view op = NameOf(node);
  return op == "reshape" || op == "view" || op == "flatten" || op == "unflatten" || op == "squeeze" ||
         op == "unsqueeze" || op == "contiguous";
}

std::optional<std::vector<int>> Permutation(const ir::Node& node, int rank) {
  const std::string_view op = NameOf(node);
  std::vector<int> perm(rank);
  for (int d = 0; d < rank; ++d) perm[d] = d;
  if (op == "transpose") {
    const int d0 = static_cast<int>(AnyAttr(node, {"dim0"}, rank - 2));
    const int d1 = static_cast<int>(AnyAttr(node, {"dim1"}, rank - 1));
    if (d0 < 0 || d1 < 0 || d0 >= rank || d1 >= rank) return std::nullopt;
    std::swap(perm[d0], perm[d1]);
    return perm;
  }
  if (op == "permute") {
    // Registry rows spell a permutation as dims d0, d1, ... (one attribute per output axis).
    for (int d = 0; d < rank; ++d) {
      const std::string name = "d" + std::to_string(d);
      if (!HasAttr(node, name)) return std::nullopt;
      perm[d] = static_cast<int>(AttrOr(node, name, d));
    }
    return perm;
  }
  return std::nullopt;
}

std::optional<ReduceAxes> ReducedAxes(const ir::Graph& graph, const ir::Node& node) {
  const int rank = graph.TypeOf(node.inputs.at(0)).Rank();
  if (HasAttr(node, "dim")) {
    const int dim = static_cast<int>(AttrOr(node, "dim", 0));
    if (dim < 0 || dim >= rank) return std::nullopt;
    return ReduceAxes{dim, dim};
  }
  if (HasAttr(node, "dim0") && HasAttr(node, "dim1")) {
    const int d0 = static_cast<int>(AttrOr(node, "dim0", 0));
    const int d1 = static_cast<int>(AttrOr(node, "dim1", 0));
    if (d0 < 0 || d1 >= rank || d1 < d0) return std::nullopt;
    return ReduceAxes{d0, d1};
  }
  // No axis attribute: a full reduction.
  return ReduceAxes{0, rank - 1};
}

std::vector<std::string> ParamRoles(const ir::Node& node) {
  const std::string_view op = NameOf(node);
  if (ops::Spec(node.op).module.empty()) return {};  // functional ops own no parameters
  const bool bias = AnyAttr(node, {"bias"}, 1.0) != 0.0;
  const bool affine = AnyAttr(node, {"elementwise_affine", "affine"}, 1.0) != 0.0;
  if (op == "linear" || op.starts_with("conv")) {
    return bias ? std::vector<std::string>{"weight", "bias"} : std::vector<std::string>{"weight"};
  }
  if (op == "layer_norm" || op == "group_norm" || op == "instance_norm") {
    if (!affine) return {};
    return bias ? std::vector<std::string>{"weight", "bias"} : std::vector<std::string>{"weight"};
  }
  if (op == "rms_norm") return affine ? std::vector<std::string>{"weight"} : std::vector<std::string>{};
  if (op == "batch_norm") {
    std::vector<std::string> roles = {"running_mean", "running_var"};
    if (affine) {
      roles.push_back("weight");
      roles.push_back("bias");
    }
    return roles;
  }
  return {};
}

std::string RowLayout::Index(const std::string& o, const std::string& r, const std::string& i) const {
  std::ostringstream os;
  if (channel_major) {
    // (n, c, s) with o = c and r = n * spatial + s.
    os << "(" << r << " // " << spatial << ") * " << channels * spatial << " + " << o << " * " << spatial
       << " + " << r << " % " << spatial;
    return os.str();
  }
  os << o << " * " << reduce * inner << " + " << r;
  if (inner != 1) os << " * " << inner << " + " << i;
  return os.str();
}

}  // namespace drtriton::emit
