// Tensor types and value lookup of the graph IR.
#include "drtriton/ir.h"
#include "support/check.h"

namespace drtriton::ir {

std::string_view DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return "float32";
    case DType::kFloat16:
      return "float16";
    case DType::kBFloat16:
      return "bfloat16";
    case DType::kInt64:
      return "int64";
  }
  return "?";
}

int64_t TensorType::Numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

const TensorType& Graph::TypeOf(int32_t value) const {
  DRT_CHECK(value >= 0 && value < NumValues(), ValueError,
            "value id " << value << " is out of range [0, " << NumValues()
                        << "); use an input or node id");
  const auto k = static_cast<int32_t>(inputs.size());
  return value < k ? inputs[static_cast<size_t>(value)]
                   : nodes[static_cast<size_t>(value - k)].type;
}

}  // namespace drtriton::ir
