// Roofline cost model of the registry (ops::EstimateCost): FLOPs and the fewest bytes an
// application must move (each input read once, the output written once, plus the module's weights).
#include "drtriton/ir.h"
#include "drtriton/ops.h"

namespace drtriton::ops {
namespace {

double ElemBytes(ir::DType dtype) {
  switch (dtype) {
    case ir::DType::kFloat32:
      return 4;
    case ir::DType::kFloat16:
      return 2;
    case ir::DType::kBFloat16:
      return 2;
    case ir::DType::kInt64:
      return 8;
  }
  return 4;
}

double Attr(OpId id, std::span<const double> attrs, std::string_view name) {
  const int i = AttrIndex(id, name);
  return i < 0 ? 0 : attrs[static_cast<size_t>(i)];
}

}  // namespace

Cost EstimateCost(OpId id, std::span<const ir::TensorType> inputs, std::span<const double> attrs,
                  const ir::TensorType& output) {
  const OpSpec& spec = Spec(id);
  double in_elems = 0, bytes = 0;
  for (const ir::TensorType& t : inputs) {
    in_elems = std::max(in_elems, static_cast<double>(t.Numel()));
    bytes += static_cast<double>(t.Numel()) * ElemBytes(t.dtype);
  }
  const double out_elems = static_cast<double>(output.Numel());
  bytes += out_elems * ElemBytes(output.dtype);
  const double wbytes = inputs.empty() ? 4 : ElemBytes(inputs[0].dtype);
  const ir::TensorType& x = inputs[0];

  Cost cost;
  switch (spec.shape) {
    case ShapeRule::kLinear: {
      const double k = static_cast<double>(x.shape.back()), n = Attr(id, attrs, "out_features");
      const double rows = static_cast<double>(x.Numel()) / k;
      cost.flops = 2 * rows * k * n + (Attr(id, attrs, "bias") ? rows * n : 0);
      bytes += (k * n + (Attr(id, attrs, "bias") ? n : 0)) * wbytes;
      break;
    }
    case ShapeRule::kMatmul:
    case ShapeRule::kBmm: {
      const double k = static_cast<double>(x.shape.back());
      cost.flops = 2 * out_elems * k;
      break;
    }
    case ShapeRule::kConv:
    case ShapeRule::kConvTranspose: {
      const double cin = static_cast<double>(x.shape[1]), cout = Attr(id, attrs, "out_channels");
      const double g = Attr(id, attrs, "groups");
      double window = 1;
      for (int i = 0; i < spec.spatial; ++i) window *= Attr(id, attrs, "kernel_size");
      const double weights = cout * (cin / g) * window;
      // Direct conv: every output element is a dot of length (cin/g)*window; the transpose scatters
      // every input element into (cout/g)*window outputs.
      cost.flops = spec.shape == ShapeRule::kConv
                       ? 2 * out_elems * (cin / g) * window
                       : 2 * static_cast<double>(x.Numel()) * (cout / g) * window;
      if (Attr(id, attrs, "bias")) cost.flops += out_elems;
      bytes += (weights + (Attr(id, attrs, "bias") ? cout : 0)) * wbytes;
      break;
    }
    case ShapeRule::kPool: {
      double window = 1;
      for (int i = 0; i < spec.spatial; ++i) window *= Attr(id, attrs, "kernel_size");
      cost.flops = out_elems * window;
      break;
    }
    default:
      cost.flops = spec.flops_per_elem * std::max(in_elems, out_elems);
      break;
  }
  // Affine parameters of the norms that own them (weight and bias per normalized feature/channel).
  if (id == OpId::kLayerNorm || id == OpId::kRmsNorm) {
    bytes += 2 * static_cast<double>(x.shape.back()) * wbytes;
  } else if (id == OpId::kGroupNorm || id == OpId::kBatchNorm) {
    bytes += (id == OpId::kBatchNorm ? 4 : 2) * static_cast<double>(x.shape[1]) * wbytes;
  }
  cost.bytes = bytes;
  return cost;
}

}  // namespace drtriton::ops
