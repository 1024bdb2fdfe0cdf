"""What a cold Triton compile costs on this host, alone and with other processes compiling at once.

The verifier compiles every candidate's kernels in its own worker process while up to one worker per core
does the same; this separates Triton's own compile time (and how it scales with concurrency) from the
verifier's overheads. Each child process imports torch and triton, creates its CUDA context, then
compiles and launches `--kernels` distinct small elementwise kernels (each a fresh source, so nothing
comes from Triton's kernel cache) and reports the wall time of each first launch.

    python3 bench/triton_compile_cost_gpu.py --procs 1,4,16 --kernels 3 --json $OUT/compile_cost.json

Needs a GPU (the first launch of a JIT kernel compiles for the current device).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

_CHILD = r"""
import importlib.util, json, sys, time
t0 = time.perf_counter()
import torch, triton, triton.language as tl
t_import = time.perf_counter() - t0
torch.empty(1, device="cuda")
t_ctx = time.perf_counter() - t0 - t_import
x = torch.randn(1 << 20, device="cuda")
firsts, seconds = [], []
for path in sys.argv[1:]:
    spec = importlib.util.spec_from_file_location(f"k{len(firsts)}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    y = torch.empty_like(x)
    t = time.perf_counter()
    mod.kernel[(x.numel() // 1024,)](x, y, x.numel(), BLOCK=1024)
    torch.cuda.synchronize()
    firsts.append(time.perf_counter() - t)
    t = time.perf_counter()
    mod.kernel[(x.numel() // 1024,)](x, y, x.numel(), BLOCK=1024)
    torch.cuda.synchronize()
    seconds.append(time.perf_counter() - t)
print(json.dumps({"import_s": t_import, "context_s": t_ctx, "first_call_s": firsts, "second_call_s": seconds}))
"""

_KERNEL = """
import triton
import triton.language as tl


@triton.jit
def kernel(p_x, p_y, N, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < N
    x = tl.load(p_x + offs, mask=mask, other=0.0)
    tl.store(p_y + offs, tl.maximum(x * {scale} + {shift}, 0.0) * tl.sigmoid(x), mask=mask)
"""


def _kernel_files(root: Path, proc: int, count: int, tag: str) -> list[str]:
    paths = []
    for j in range(count):
        path = root / f"k_{tag}_{proc}_{j}.py"
        # A unique constant per file: a distinct source, so a distinct cache key.
        path.write_text(textwrap.dedent(_KERNEL.format(scale=1.0 + proc * 0.001 + j * 1e-6, shift=0.5 + j)))
        paths.append(str(path))
    return paths


def run(procs: int, kernels: int, root: Path, tag: str) -> dict:
    started = time.perf_counter()
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, *_kernel_files(root, i, kernels, tag)],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        for i in range(procs)
    ]
    results = []
    for child in children:
        out, _ = child.communicate()
        if child.returncode != 0:
            raise SystemExit(f"a compile child failed with exit code {child.returncode}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    wall = time.perf_counter() - started
    firsts = [r["first_call_s"][0] for r in results]  # the process's first kernel
    laters = [t for r in results for t in r["first_call_s"][1:]]  # later distinct kernels, same process
    return {
        "procs": procs,
        "wall_s": wall,
        "import_s_median": statistics.median(r["import_s"] for r in results),
        "context_s_median": statistics.median(r["context_s"] for r in results),
        "first_kernel_s_median": statistics.median(firsts),
        "later_kernel_s_median": statistics.median(laters) if laters else None,
        "relaunch_s_median": statistics.median(t for r in results for t in r["second_call_s"]),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--procs", default="1,4,16", help="comma-separated counts of processes compiling at once")
    ap.add_argument("--kernels", type=int, default=3, help="distinct kernels each process compiles")
    ap.add_argument("--json", help="write the results here as JSON")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, procs in enumerate(int(p) for p in args.procs.split(",")):
            row = run(procs, args.kernels, Path(tmp), f"r{n}")
            rows.append(row)
            print(
                f"{procs:3d} procs: wall {row['wall_s']:.2f} s; import {row['import_s_median']:.2f} s, context "
                f"{row['context_s_median']:.2f} s, first kernel {row['first_kernel_s_median']:.2f} s, later kernels "
                f"{row['later_kernel_s_median']} s, relaunch {row['relaunch_s_median'] * 1e3:.2f} ms (medians)",
                flush=True,
            )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
