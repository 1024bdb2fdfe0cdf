// Shape and dtype rules of the registry (ops::InferOutput): one case per ShapeRule, each checking
// the constraint it places on its inputs and saying which one failed.
#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>

#include "drtriton/ir.h"
#include "drtriton/ops.h"

namespace drtriton::ops {
namespace {

using ir::Shape;
using ir::TensorType;

std::string ShapeStr(const Shape& shape) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << "]";
  return os.str();
}

// Collects the first failure message; every rule returns Fail(...) on a broken constraint.
struct Checker {
  std::string* why;
  std::optional<TensorType> Fail(const std::string& msg) {
    if (why) *why = msg;
    return std::nullopt;
  }
};

bool IsInteger(double v) { return std::isfinite(v) && v == std::floor(v); }

std::optional<Shape> Broadcast(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) return std::nullopt;
    out[i] = std::max(da, db);
  }
  return out;
}

}  // namespace

namespace {

std::optional<ir::TensorType> InferRaw(OpId id, std::span<const ir::TensorType> inputs,
                                       std::span<const double> attrs, std::string* why) {
  if (why) why->clear();
  Checker c{why};
  const OpSpec& spec = Spec(id);
  if (static_cast<int>(inputs.size()) != spec.arity) {
    return c.Fail(std::string(spec.name) + " takes " + std::to_string(spec.arity) +
                  " tensor input(s), got " + std::to_string(inputs.size()));
  }
  if (attrs.size() != spec.attrs.size()) {
    return c.Fail(std::string(spec.name) + " takes " + std::to_string(spec.attrs.size()) +
                  " attribute(s), got " + std::to_string(attrs.size()));
  }
  for (const TensorType& t : inputs) {
    if (t.dtype == ir::DType::kInt64) {
      return c.Fail(std::string(spec.name) +
                    " needs floating inputs, got int64 (argmax/argmin output)");
    }
    for (int64_t d : t.shape) {
      if (d < 1) return c.Fail("every extent must be >= 1, got shape " + ShapeStr(t.shape));
    }
  }
  for (size_t i = 1; i < inputs.size(); ++i) {
    if (inputs[i].dtype != inputs[0].dtype) {
      return c.Fail(std::string(spec.name) + " inputs must share a dtype, got " +
                    std::string(ir::DTypeName(inputs[0].dtype)) + " and " +
                    std::string(ir::DTypeName(inputs[i].dtype)));
    }
  }
  for (size_t i = 0; i < attrs.size(); ++i) {
    const AttrSpec& a = spec.attrs[i];
    const double v = attrs[i];
    const bool integral = a.kind != AttrKind::kFloat;
    // Float attrs may be +-inf (clamp(x, max=1) is clamp(x, -inf, 1)); never NaN.
    if (std::isnan(v) || (integral && !IsInteger(v))) {
      return c.Fail(std::string(spec.name) + " attribute " + std::string(a.name) + " must be " +
                    (integral ? "an integer" : "a number (not NaN)") + ", got " +
                    std::to_string(v));
    }
    if ((a.kind == AttrKind::kBool && v != 0 && v != 1) ||
        (a.kind == AttrKind::kEnum && (v < 0 || v >= static_cast<double>(a.enum_names.size()))) ||
        (a.kind == AttrKind::kAxis && v < 0)) {
      return c.Fail(std::string(spec.name) + " attribute " + std::string(a.name) +
                    " is out of range, got " + std::to_string(v));
    }
  }
  const TensorType& x = inputs[0];
  const int rank = x.Rank();
  if (rank < spec.min_rank || rank > spec.max_rank) {
    return c.Fail(std::string(spec.name) + " needs input rank in [" +
                  std::to_string(spec.min_rank) + ", " + std::to_string(spec.max_rank) +
                  "], got shape " + ShapeStr(x.shape));
  }
  auto attr = [&](std::string_view name) -> int64_t {
    return static_cast<int64_t>(attrs[static_cast<size_t>(AttrIndex(id, name))]);
  };
  auto axis_ok = [&](std::string_view name, int limit) -> bool { return attr(name) < limit; };
  auto axis_fail = [&](std::string_view name) {
    return c.Fail(std::string(spec.name) + " " + std::string(name) + "=" +
                  std::to_string(attr(name)) + " is out of range for shape " + ShapeStr(x.shape));
  };

  TensorType out{.shape = x.shape,
                 .dtype = spec.dtype == DtypeRule::kIndexOut ? ir::DType::kInt64 : x.dtype};
  switch (spec.shape) {
    case ShapeRule::kSameAsInput:
      return out;
    case ShapeRule::kSameAlongAxis:
      if (!axis_ok("dim", rank)) return axis_fail("dim");
      return out;
    case ShapeRule::kSpatialStats: {
      int64_t spatial = 1;
      for (int i = 2; i < rank; ++i) spatial *= x.shape[i];
      if (spatial < 2) {
        return c.Fail(std::string(spec.name) +
                      " needs >= 2 spatial elements per channel, got shape " + ShapeStr(x.shape));
      }
      return out;
    }
    case ShapeRule::kGroupNorm: {
      const int64_t groups = attr("num_groups");
      if (groups < 1 || x.shape[1] % groups != 0) {
        return c.Fail("group_norm channels " + std::to_string(x.shape[1]) +
                      " are not divisible by num_groups=" + std::to_string(groups));
      }
      return out;
    }
    case ShapeRule::kBroadcast: {
      auto shape = Broadcast(x.shape, inputs[1].shape);
      if (!shape) {
        return c.Fail(std::string(spec.name) + " cannot broadcast " + ShapeStr(x.shape) + " with " +
                      ShapeStr(inputs[1].shape));
      }
      out.shape = *shape;
      return out;
    }
    case ShapeRule::kReduceAxis: {
      if (!axis_ok("dim", rank)) return axis_fail("dim");
      const int64_t dim = attr("dim");
      if (x.shape[dim] < spec.min_axis_extent) {
        return c.Fail(std::string(spec.name) +
                      " needs extent >= " + std::to_string(spec.min_axis_extent) + " along dim " +
                      std::to_string(dim) + ", got shape " + ShapeStr(x.shape));
      }
      if (attr("keepdim")) {
        out.shape[dim] = 1;
      } else {
        out.shape.erase(out.shape.begin() + dim);
      }
      return out;
    }
    case ShapeRule::kLoss:
      if (inputs[1].shape != x.shape) {
        return c.Fail(std::string(spec.name) + " needs equal shapes, got " + ShapeStr(x.shape) +
                      " and " + ShapeStr(inputs[1].shape));
      }
      out.shape.clear();
      return out;
    case ShapeRule::kBroadcastReduce: {
      auto shape = Broadcast(x.shape, inputs[1].shape);
      if (!shape) {
        return c.Fail(std::string(spec.name) + " cannot broadcast " + ShapeStr(x.shape) + " with " +
                      ShapeStr(inputs[1].shape));
      }
      if (attr("dim") >= static_cast<int64_t>(shape->size())) return axis_fail("dim");
      shape->erase(shape->begin() + attr("dim"));
      out.shape = *shape;
      return out;
    }
    case ShapeRule::kLinear:
      if (attr("out_features") < 1) return c.Fail("linear out_features must be >= 1");
      out.shape.back() = attr("out_features");
      return out;
    case ShapeRule::kMatmul:
    case ShapeRule::kBmm: {
      const TensorType& y = inputs[1];
      if (y.Rank() < spec.min_rank || y.Rank() > spec.max_rank) {
        return c.Fail(std::string(spec.name) + " needs input 1 of rank in [" +
                      std::to_string(spec.min_rank) + ", " + std::to_string(spec.max_rank) +
                      "], got shape " + ShapeStr(y.shape));
      }
      const int64_t k0 = x.shape[rank - 1], k1 = y.shape[y.Rank() - 2];
      if (k0 != k1) {
        return c.Fail(std::string(spec.name) + " inner dims differ: " + ShapeStr(x.shape) + " @ " +
                      ShapeStr(y.shape));
      }
      Shape batch_x(x.shape.begin(), x.shape.end() - 2),
          batch_y(y.shape.begin(), y.shape.end() - 2);
      std::optional<Shape> batch = batch_x;
      if (spec.shape == ShapeRule::kBmm) {
        if (batch_x != batch_y) {
          return c.Fail("bmm batch dims differ: " + ShapeStr(x.shape) + " @ " + ShapeStr(y.shape));
        }
      } else {
        batch = Broadcast(batch_x, batch_y);
        if (!batch) {
          return c.Fail("matmul batch dims do not broadcast: " + ShapeStr(x.shape) + " @ " +
                        ShapeStr(y.shape));
        }
      }
      out.shape = *batch;
      out.shape.push_back(x.shape[rank - 2]);
      out.shape.push_back(y.shape[y.Rank() - 1]);
      return out;
    }
    case ShapeRule::kConv:
    case ShapeRule::kConvTranspose: {
      if (rank != spec.spatial + 2) {
        return c.Fail(std::string(spec.name) + " needs a rank-" + std::to_string(spec.spatial + 2) +
                      " input [N, C, spatial...], got shape " + ShapeStr(x.shape));
      }
      const int64_t out_ch = attr("out_channels"), k = attr("kernel_size"), s = attr("stride"),
                    p = attr("padding"), g = attr("groups");
      if (out_ch < 1 || k < 1 || s < 1 || p < 0 || g < 1) {
        return c.Fail(std::string(spec.name) +
                      " needs out_channels, kernel_size, stride, groups >= 1 and "
                      "padding >= 0");
      }
      if (x.shape[1] % g != 0 || out_ch % g != 0) {
        return c.Fail(std::string(spec.name) + " groups=" + std::to_string(g) +
                      " must divide in_channels=" + std::to_string(x.shape[1]) +
                      " and out_channels=" + std::to_string(out_ch));
      }
      const bool transpose = spec.shape == ShapeRule::kConvTranspose;
      const int64_t op = transpose ? attr("output_padding") : 0;
      if (transpose && (op < 0 || op >= s)) {
        return c.Fail(std::string(spec.name) + " output_padding=" + std::to_string(op) +
                      " must be smaller than stride=" + std::to_string(s));
      }
      out.shape[1] = out_ch;
      for (int i = 2; i < rank; ++i) {
        const int64_t len = x.shape[i];
        const int64_t o = transpose ? (len - 1) * s - 2 * p + k + op : (len + 2 * p - k) / s + 1;
        if ((!transpose && len + 2 * p < k) || o < 1) {
          return c.Fail(std::string(spec.name) + " output extent would be < 1 for input " +
                        ShapeStr(x.shape) + " with kernel_size=" + std::to_string(k) +
                        ", padding=" + std::to_string(p));
        }
        out.shape[i] = o;
      }
      return out;
    }
    case ShapeRule::kPool: {
      if (rank != spec.spatial + 2) {
        return c.Fail(std::string(spec.name) + " needs a rank-" + std::to_string(spec.spatial + 2) +
                      " input [N, C, spatial...], got shape " + ShapeStr(x.shape));
      }
      const int64_t k = attr("kernel_size"), s = attr("stride");
      if (k < 1 || s < 1)
        return c.Fail(std::string(spec.name) + " needs kernel_size and stride >= 1");
      for (int i = 2; i < rank; ++i) {
        if (x.shape[i] < k) {
          return c.Fail(std::string(spec.name) + " kernel_size=" + std::to_string(k) +
                        " exceeds spatial extent of " + ShapeStr(x.shape));
        }
        out.shape[i] = (x.shape[i] - k) / s + 1;
      }
      return out;
    }
    case ShapeRule::kAdaptivePool: {
      if (rank != spec.spatial + 2) {
        return c.Fail(std::string(spec.name) + " needs a rank-" + std::to_string(spec.spatial + 2) +
                      " input [N, C, spatial...], got shape " + ShapeStr(x.shape));
      }
      const int64_t o = attr("output_size");
      if (o < 1) return c.Fail(std::string(spec.name) + " output_size must be >= 1");
      for (int i = 2; i < rank; ++i) out.shape[i] = o;
      return out;
    }
    case ShapeRule::kFlatten: {
      if (!axis_ok("start_dim", rank)) return axis_fail("start_dim");
      const int64_t start = attr("start_dim");
      int64_t prod = 1;
      for (int i = static_cast<int>(start); i < rank; ++i) prod *= x.shape[i];
      out.shape.resize(start);
      out.shape.push_back(prod);
      return out;
    }
    case ShapeRule::kUnflatten: {
      if (!axis_ok("dim", rank)) return axis_fail("dim");
      const int64_t dim = attr("dim"), size = attr("size");
      if (size < 1 || x.shape[dim] % size != 0) {
        return c.Fail("unflatten size=" + std::to_string(size) + " must divide extent " +
                      std::to_string(x.shape[dim]) + " of dim " + std::to_string(dim));
      }
      out.shape[dim] = x.shape[dim] / size;
      out.shape.insert(out.shape.begin() + dim, size);
      return out;
    }
    case ShapeRule::kTranspose: {
      if (!axis_ok("dim0", rank)) return axis_fail("dim0");
      if (!axis_ok("dim1", rank)) return axis_fail("dim1");
      const int64_t d0 = attr("dim0"), d1 = attr("dim1");
      // dim0 < dim1 keeps one spelling per transposition (transpose(1, 0) == transpose(0, 1)).
      if (d0 >= d1) {
        return c.Fail("transpose needs dim0 < dim1, got dim0=" + std::to_string(d0) +
                      ", dim1=" + std::to_string(d1));
      }
      std::swap(out.shape[d0], out.shape[d1]);
      return out;
    }
    case ShapeRule::kUnsqueeze:
      if (!axis_ok("dim", rank + 1)) return axis_fail("dim");
      out.shape.insert(out.shape.begin() + attr("dim"), 1);
      return out;
    case ShapeRule::kSqueeze:
      if (!axis_ok("dim", rank)) return axis_fail("dim");
      if (x.shape[attr("dim")] != 1) {
        return c.Fail("squeeze dim=" + std::to_string(attr("dim")) + " has extent " +
                      std::to_string(x.shape[attr("dim")]) + " in " + ShapeStr(x.shape) +
                      "; it must be 1");
      }
      out.shape.erase(out.shape.begin() + attr("dim"));
      return out;
    case ShapeRule::kConcat: {
      if (!axis_ok("dim", rank)) return axis_fail("dim");
      const Shape& y = inputs[1].shape;
      const int64_t dim = attr("dim");
      bool same = static_cast<int>(y.size()) == rank;
      for (int i = 0; same && i < rank; ++i) same = i == dim || y[i] == x.shape[i];
      if (!same) {
        return c.Fail("concat along dim " + std::to_string(dim) +
                      " needs equal other extents, got " + ShapeStr(x.shape) + " and " +
                      ShapeStr(y));
      }
      out.shape[dim] += y[dim];
      return out;
    }
  }
  return c.Fail("unknown shape rule");
}

// Tensors past 2^40 elements are beyond any device and would overflow int64 cost arithmetic.
constexpr int64_t kMaxElements = int64_t{1} << 40;

bool TooLarge(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d > kMaxElements || n > kMaxElements / std::max<int64_t>(d, 1)) return true;
    n *= d;
  }
  return false;
}

}  // namespace

std::optional<ir::TensorType> InferOutputExplained(OpId id, std::span<const ir::TensorType> inputs,
                                                   std::span<const double> attrs,
                                                   std::string* why) {
  Checker c{why};
  for (const TensorType& t : inputs) {
    if (TooLarge(t.shape)) {
      return c.Fail("input shape " + ShapeStr(t.shape) + " has more than 2^40 elements");
    }
  }
  auto out = InferRaw(id, inputs, attrs, why);
  if (out && TooLarge(out->shape)) {
    return c.Fail(std::string(Spec(id).name) + " output shape " + ShapeStr(out->shape) +
                  " has more than 2^40 elements; use smaller attrs");
  }
  return out;
}

std::optional<ir::TensorType> InferOutput(OpId id, std::span<const ir::TensorType> inputs,
                                          std::span<const double> attrs) {
  return InferOutputExplained(id, inputs, attrs, nullptr);
}

}  // namespace drtriton::ops
