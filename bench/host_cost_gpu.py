"""What one generated ModelNew call costs the CPU, piece by piece, against one eager PyTorch op.

    python3 bench/host_cost_gpu.py [--calls 20000]

Compiles a small fused pointwise program (relu(x) * y + 1 on 64 x 1024 fp32, GPU work ~2 us, so every
call is bound by the host), then times back-to-back calls with no sync (time.perf_counter over --calls
calls, mean us per call) of: the eager Model, one eager op, the generated ModelNew, and each step of its
forward and of its launch site (_Launcher) on its own. Prints a table and writes JSON to --out.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from drtriton.frontend import CompileConfig, compile_problem  # noqa: E402

PROBLEM = '''import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x, y):
        return torch.relu(x) * y + 1.0


def get_inputs():
    return [torch.randn(64, 1024), torch.randn(64, 1024)]


def get_init_inputs():
    return []
'''


def _per_call_us(fn, calls: int) -> float:
    for _ in range(100):
        fn()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    elapsed = time.perf_counter() - start
    torch.cuda.synchronize()
    return elapsed / calls * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")) / "host_cost_gpu.json")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("host_cost_gpu: needs a CUDA GPU", file=sys.stderr)
        return 2
    import triton
    tmp = Path(tempfile.mkdtemp())
    (tmp / "problem.py").write_text(PROBLEM)
    result = compile_problem((tmp / "problem.py").read_text(), CompileConfig())
    (tmp / "solution.py").write_text(result.source)
    spec = importlib.util.spec_from_file_location("solution", tmp / "solution.py")
    sol = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sol)
    ns: dict = {}
    exec(PROBLEM, ns)
    x = torch.randn(64, 1024, device="cuda")
    y = torch.randn(64, 1024, device="cuda")
    model, new = ns["Model"]().cuda(), sol.ModelNew().cuda()
    launcher = next(v for v in vars(sol).values() if type(v).__name__ == "_Launcher")
    out = torch.empty_like(x)
    new(x, y)  # first call: JIT compile, then the launcher holds the compiled kernel
    c = launcher.compiled
    assert c is not None, "the launcher did not keep a compiled kernel"
    stream = launcher.current_stream(launcher.device)
    full = (x, y, out) + launcher.constexprs
    addrs = (x.data_ptr(), y.data_ptr(), out.data_ptr()) + launcher.constexprs
    knobs = triton.knobs.runtime
    dev = x.device
    pieces = {
        "eager Model (3 ops)": lambda: model(x, y),
        "eager torch.relu (1 op)": lambda: torch.relu(x),
        "ModelNew forward": lambda: new(x, y),
        "_Launcher call": lambda: launcher(x, y, out),
        "JIT path kernel[grid](...)": lambda: launcher.kernel[launcher.grid](x, y, out, **launcher.kwargs),
        "x.contiguous()": lambda: x.contiguous(),
        "x.device": lambda: x.device,
        "torch.empty(shape, device, dtype)": lambda: torch.empty((64, 1024), device=dev, dtype=torch.float32),
        "torch.empty_like(x)": lambda: torch.empty_like(x),
        "_specialization(3 ptrs)": lambda: sol._specialization((x, y, out)),
        "current_stream(device)": lambda: launcher.current_stream(launcher.device),
        "torch.cuda.current_stream().cuda_stream": lambda: torch.cuda.current_stream().cuda_stream,
        "hook lookups": lambda: (knobs.launch_enter_hook, knobs.launch_exit_hook),
        "CompiledKernel.run (bare)": lambda: launcher.run(*launcher.grid3, stream, c.function, c.packed_metadata,
                                                         None, None, None, *full),
        "CompiledKernel.run (int addresses)": lambda: launcher.run(*launcher.grid3, stream, c.function,
                                                                   c.packed_metadata, None, None, None, *addrs),
        "x.data_ptr() x3": lambda: (x.data_ptr(), y.data_ptr(), out.data_ptr()),
        "x.new_empty(shape)": lambda: x.new_empty((64, 1024)),
    }
    rows = []
    for name, fn in pieces.items():
        us = _per_call_us(fn, args.calls)
        rows.append({"piece": name, "us": us})
        print(f"{us:8.2f} us  {name}", flush=True)
    torch.testing.assert_close(new(x, y), model(x, y))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"device": torch.cuda.get_device_name(), "torch": torch.__version__,
                                    "triton": triton.__version__, "rows": rows}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
