"""Where our fp32 GEMMs lose to cuBLAS: the code generator's tl.dot kernel over its knob space, against a
reference Triton GEMM written the textbook way (no masks when tiles divide the shape, pointer increments,
grouped program order for L2 reuse), both at the same dot precision, and cuBLAS (torch.mm, fp32). Needs a
CUDA GPU; prints one table and writes JSON to --out.

    python bench/matmul_probe_gpu.py --out $OUT/matmul_probe.json

Shapes: KernelBench level 1's square 4096 GEMM, a small-K GEMM, a batch-128 linear layer, a 1024 square GEMM.
Times: triton.testing.do_bench medians (ms, L2 flushed between calls). Nothing here changes the generator:
it measures which of its choices cost the time.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import triton
import triton.language as tl

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from codegen_gpu import _load  # noqa: E402 - generated files load from disk (Triton's @jit needs one)

from drtriton.frontend import CompileConfig, compile_problem  # noqa: E402
from drtriton.util.provenance import Provenance  # noqa: E402

SHAPES = {  # name: (M, N, K)
    "square4096": (4096, 4096, 4096),
    "smallK": (8192, 8192, 64),
    "linear128": (128, 4096, 4096),
    "square1024": (1024, 1024, 1024),
}
OUR_KNOBS = [{}, {"block_m": 128, "block_n": 128, "block_k": 32, "num_warps": 8, "num_stages": 3},
             {"block_m": 128, "block_n": 64, "block_k": 32, "num_warps": 4, "num_stages": 4},
             {"block_m": 64, "block_n": 128, "block_k": 32, "num_warps": 4, "num_stages": 4},
             {"block_m": 128, "block_n": 128, "block_k": 16, "num_warps": 8, "num_stages": 4},
             {"block_m": 64, "block_n": 64, "block_k": 32, "num_warps": 4, "num_stages": 4}]
REF_CONFIGS = [(128, 128, 32, 8, 3, 8), (128, 128, 32, 8, 4, 8), (128, 64, 32, 4, 4, 8), (64, 128, 32, 4, 4, 8),
               (128, 256, 32, 8, 3, 8), (128, 128, 16, 8, 4, 8), (64, 64, 32, 4, 4, 8), (128, 128, 32, 8, 3, 1)]


@triton.jit
def _ref_gemm(a_ptr, b_ptr, c_ptr, M: tl.constexpr, N: tl.constexpr, K: tl.constexpr, BM: tl.constexpr,
              BN: tl.constexpr, BK: tl.constexpr, GROUP: tl.constexpr, PREC: tl.constexpr, EVEN: tl.constexpr):
    pid = tl.program_id(0)
    grid_m = tl.cdiv(M, BM)
    grid_n = tl.cdiv(N, BN)
    width = GROUP * grid_n
    group = pid // width
    first_m = group * GROUP
    size_m = min(grid_m - first_m, GROUP)
    pid_m = first_m + (pid % width) % size_m
    pid_n = (pid % width) // size_m
    offs_m = pid_m * BM + tl.arange(0, BM)
    offs_n = pid_n * BN + tl.arange(0, BN)
    offs_k = tl.arange(0, BK)
    a_ptrs = a_ptr + offs_m[:, None] * K + offs_k[None, :]
    b_ptrs = b_ptr + offs_k[:, None] * N + offs_n[None, :]
    acc = tl.zeros([BM, BN], dtype=tl.float32)
    for k0 in range(0, K, BK):
        if EVEN:
            a = tl.load(a_ptrs)
            b = tl.load(b_ptrs)
        else:
            a = tl.load(a_ptrs, mask=(offs_m[:, None] < M) & (offs_k[None, :] + k0 < K), other=0.0)
            b = tl.load(b_ptrs, mask=(offs_k[:, None] + k0 < K) & (offs_n[None, :] < N), other=0.0)
        acc += tl.dot(a, b, input_precision=PREC)
        a_ptrs += BK
        b_ptrs += BK * N
    tl.store(c_ptr + offs_m[:, None] * N + offs_n[None, :], acc, mask=(offs_m[:, None] < M) & (offs_n[None, :] < N))


def ref_gemm(a, b, cfg, prec):
    M, K = a.shape
    N = b.shape[1]
    bm, bn, bk, w, s, group = cfg
    c = torch.empty(M, N, device=a.device, dtype=torch.float32)
    even = M % bm == 0 and N % bn == 0 and K % bk == 0
    _ref_gemm[(triton.cdiv(M, bm) * triton.cdiv(N, bn),)](a, b, c, M, N, K, bm, bn, bk, group, prec, even,
                                                         num_warps=w, num_stages=s)
    return c


PROBLEM = """import torch
import torch.nn as nn

class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, a, b):
        return torch.matmul(a, b)

def get_inputs():
    return [torch.randn({M}, {K}), torch.randn({K}, {N})]

def get_init_inputs():
    return []
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("matmul_probe.json"))
    ap.add_argument("--shapes", default=",".join(SHAPES), help=f"comma-separated, of {list(SHAPES)}")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("matmul_probe_gpu.py needs a CUDA GPU", file=sys.stderr)
        return 2
    torch.backends.cuda.matmul.allow_tf32 = False
    rows = []
    for name in args.shapes.split(","):
        M, N, K = SHAPES[name]
        a = torch.randn(M, K, device="cuda")
        b = torch.randn(K, N, device="cuda")
        want = torch.mm(a, b)
        flops = 2 * M * N * K
        row = {"shape": name, "M": M, "N": N, "K": K, "cublas_ms": triton.testing.do_bench(lambda: torch.mm(a, b))}
        print(f"{name}: cuBLAS fp32 {row['cublas_ms']:.3f} ms ({flops / row['cublas_ms'] / 1e9:.1f} TFLOP/s)",
              flush=True)
        ours = []
        for i, knobs in enumerate(OUR_KNOBS):
            src = compile_problem(PROBLEM.format(M=M, N=N, K=K), CompileConfig(policy="mixed", knobs=knobs)).source
            model = _load(src, f"ours_{name}_{i}").ModelNew().cuda()
            try:
                got = model(a, b)
                err = float((got - want).abs().max())
                ms = triton.testing.do_bench(lambda: model(a, b))
            except Exception as exc:  # noqa: BLE001 - a knob set that does not compile is a row, not a stop
                ours.append({"knobs": knobs, "error": f"{type(exc).__name__}: {str(exc)[:120]}"})
                continue
            ours.append({"knobs": knobs, "ms": ms, "max_abs_err": err})
            print(f"  ours {knobs}: {ms:.3f} ms ({row['cublas_ms'] / ms:.2f}x cuBLAS), err {err:.2e}", flush=True)
        row["ours"] = ours
        refs = []
        for prec in ("tf32x3", "tf32"):
            for cfg in REF_CONFIGS:
                try:
                    got = ref_gemm(a, b, cfg, prec)
                    err = float((got - want).abs().max())
                    ms = triton.testing.do_bench(lambda: ref_gemm(a, b, cfg, prec))
                except Exception as exc:  # noqa: BLE001
                    refs.append({"cfg": cfg, "prec": prec, "error": f"{type(exc).__name__}: {str(exc)[:120]}"})
                    continue
                refs.append({"cfg": cfg, "prec": prec, "ms": ms, "max_abs_err": err})
                print(f"  ref {prec} {cfg}: {ms:.3f} ms ({row['cublas_ms'] / ms:.2f}x cuBLAS), err {err:.2e}",
                      flush=True)
        row["ref"] = refs
        rows.append(row)
    args.out.write_text(json.dumps({"provenance": Provenance.here().to_json(), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
