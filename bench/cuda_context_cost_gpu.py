"""What a CUDA context costs a verifier worker, alone and with others starting at once (needs a GPU).

The verifier gives every candidate a fresh process forked from a zygote that imported torch without
touching CUDA, so every candidate pays one CUDA context. On the H100 the pool's instrumentation measured
~4.5 s median per worker context with 16 workers busy. This separates the driver's cost (cuInit +
primary context through ctypes, no torch) from torch's (`torch.empty(1, device="cuda")`), and shows how
the latency grows when N processes create their contexts at the same moment (is it serialised in the
driver?) and with the host's cores busy.

    PYTHONPATH=src python3 bench/cuda_context_cost_gpu.py --procs 1,4,16 --out $OUT/ctx.json
"""

from __future__ import annotations

import argparse
import ctypes
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path


def _driver_context(q) -> None:
    t0 = time.perf_counter()
    cuda = ctypes.CDLL("libcuda.so.1")
    dev, ctx = ctypes.c_int(), ctypes.c_void_p()
    ok = cuda.cuInit(0) == 0 and cuda.cuDeviceGet(ctypes.byref(dev), 0) == 0
    t1 = time.perf_counter()
    ok = ok and cuda.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), dev) == 0
    t2 = time.perf_counter()
    q.put({"ok": ok, "init_s": t1 - t0, "ctx_s": t2 - t1, "total_s": t2 - t0})


def _torch_context(q) -> None:
    import torch

    try:
        _torch_context_timed(q, torch)
    except Exception as exc:  # one line in the results, not a parent waiting on an empty queue
        q.put({"ok": False, "error": repr(exc), "ctx_s": float("nan"), "total_s": float("nan")})


def _torch_context_timed(q, torch) -> None:
    t0 = time.perf_counter()
    torch.empty(1, device="cuda")
    t1 = time.perf_counter()
    x = torch.ones(1024, device="cuda")
    (x * 2).sum().item()  # first kernels: the module loads of a first launch
    t2 = time.perf_counter()
    q.put({"ok": True, "ctx_s": t1 - t0, "first_kernel_s": t2 - t1, "total_s": t2 - t0})


def _burn(stop_at: float) -> None:
    while time.time() < stop_at:
        sum(i * i for i in range(10_000))


def run(kind: str, procs: int, busy_cores: int) -> dict:
    ctx = mp.get_context("fork")  # as the zygote: the parent imported torch, never touched CUDA
    burners = [ctx.Process(target=_burn, args=(time.time() + 60,)) for _ in range(busy_cores)]
    for b in burners:
        b.start()
    q = ctx.Queue()
    target = _driver_context if kind == "driver" else _torch_context
    t0 = time.perf_counter()
    ps = [ctx.Process(target=target, args=(q,)) for _ in range(procs)]
    for p in ps:
        p.start()
    rows = [q.get(timeout=120) for _ in ps]
    wall = time.perf_counter() - t0
    for p in ps:
        p.join()
    for b in burners:
        b.kill()
        b.join()
    totals = [r["total_s"] for r in rows]
    return {
        "kind": kind,
        "procs": procs,
        "busy_cores": busy_cores,
        "wall_s": wall,
        "median_total_s": statistics.median(totals),
        "max_total_s": max(totals),
        "median_ctx_s": statistics.median(r["ctx_s"] for r in rows),
        "rows": rows,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--procs", default="1,4,16", help="comma list of processes creating contexts at once")
    ap.add_argument("--busy", default="0,16", help="comma list of CPU-burning processes beside them")
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")) / "cuda_context_cost.json")
    args = ap.parse_args()
    import torch  # the parent imports torch (as the zygote does) and never initialises CUDA

    # no torch.cuda.is_available() here: it initialises the CUDA runtime, and forked children then refuse
    # CUDA; a machine without a GPU shows in the rows (ok false, the driver's error)
    results = []
    for busy in [int(b) for b in args.busy.split(",")]:
        for kind in ("driver", "torch"):
            for n in [int(p) for p in args.procs.split(",")]:
                r = run(kind, n, busy)
                results.append(r)
                print(
                    f"{kind:6s} procs={n:2d} busy={busy:2d}: wall {r['wall_s']:.2f} s, per process median "
                    f"{r['median_total_s']:.2f} s (context {r['median_ctx_s']:.2f} s), max {r['max_total_s']:.2f} s",
                    flush=True,
                )
    args.out.write_text(json.dumps({"torch": torch.__version__, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
