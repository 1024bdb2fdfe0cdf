// Emitters from the graph IR to program text. The PyTorch emitter (src/emit/pytorch.cc) writes the
// KernelBench-format reference program; the Triton generator's declarations live in emit_triton.h.
#pragma once

#include <string>
#include <vector>

#include "drtriton/ir.h"
#include "drtriton/ops.h"

namespace drtriton::emit {

/// Options of the PyTorch emitter.
struct EmitOptions {
  /// First line of the module docstring; empty means "<op> -> <op> -> ..." in node order.
  std::string title;
  /// Value-range class each graph input must lie in (indexed like Graph::inputs; missing = kAny).
  /// get_inputs draws kAny from torch.randn, kNonNeg from torch.rand, kPositive from torch.rand +
  /// 0.1, kUnit from torch.rand * 0.98 + 0.01, so the program stays in its operators' domains.
  std::vector<ops::Range> input_ranges;
};

/// KernelBench-format program text for `graph` (validated first; throws ShapeError/ValueError):
/// imports, module-level size constants, `class Model(nn.Module)` whose __init__ takes the init
/// args and creates the submodules (nn.Linear, nn.Conv2d...), forward with one line per node,
/// `get_inputs()` and `get_init_inputs()`. Deterministic: equal graphs give equal text. Naming:
/// submodules are `self.<op name>` (numbered `self.linear1`, `self.linear2` when an op repeats);
/// forward arguments are x, y, z, w (x0, x1... past four inputs).
std::string EmitPyTorch(const ir::Graph& graph, const EmitOptions& options = {});

}  // namespace drtriton::emit
