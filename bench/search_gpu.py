"""GPU evidence for test-time search: the searched result vs the single-shot rule-based output, vs eager and
vs torch.compile, with the budget used, on >= 20 problems in about 7 minutes on one H100 (tests/problems
scaled to realistic sizes + synthesized level-5 programs at --shape-scale realistic).

    python bench/search_gpu.py --out $OUT/search_gpu.json                 # 17 + 5 problems, ~7 minutes
    python bench/search_gpu.py --out $OUT/search_gpu.json                 # run again: resumes
    python bench/search_gpu.py --problems all --synth 8 --total-seconds 1200

Sizes: every batch/length/width constant of a tests/problems file (BATCH, DIM, N, FEATURES, CHANNELS, ...;
never kernel sizes, strides, groups or scalars) is multiplied by one power-of-two factor, the largest that
keeps every input, parameter and output tensor at or under --target-elements (2^24 = 64 MB of fp32 by
default), measured on the meta device. The single-shot output is always the search's first candidate, so
searched/single-shot is never below 1 when the single shot verifies (it is counted and printed).
Prints one row per problem and the geomeans; writes everything to JSON. Without a GPU it still runs
(correctness only) and every speed is None: no numbers are made up.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from drtriton.search import SearchConfig, optimize
from drtriton.search.backend import EngineBackend
from drtriton.search.optimize import geomean
from drtriton.util.fileio import atomic_write_text
from drtriton.util.provenance import Provenance

# Constants that are sizes of data (scaled); kernel sizes, strides, groups and scalars are left alone.
SCALABLE = ("BATCH", "ROWS", "N", "M", "K", "SEQ", "LENGTH", "COLS", "DIM", "HEIGHT", "WIDTH", "FEATURES",
            "IN_FEATURES", "OUT_FEATURES", "HIDDEN", "INNER", "CHANNELS", "IN_CHANNELS", "OUT_CHANNELS")
_CONST = re.compile(rf"^({'|'.join(SCALABLE)})\s*=\s*(\d+)\s*$", re.MULTILINE)
# The default selection, fixed before running: fusion chains, row reductions and norms, matmuls with
# epilogues, conv epilogues, a transpose; single activations are left to --problems all.
DEFAULT_PROBLEMS = ("argmax_rows", "bmm", "channel_bias_add", "conv_bn_silu", "conv_groupnorm_mean",
                    "gemm_sigmoid_sum", "gelu", "l2_normalize", "layer_norm", "linear_gelu_layernorm",
                    "logsumexp_rows", "matmul_softmax", "mean_reduction", "residual_mlp_block", "rms_norm",
                    "softmax_rows", "transpose_add")


def scaled(src: str, factor: int) -> str:
    """The problem with every data-size constant multiplied by `factor`."""
    return _CONST.sub(lambda m: f"{m.group(1)} = {int(m.group(2)) * factor}", src)


def largest_tensor(src: str) -> int:
    """Elements of the largest input, parameter or output tensor, on the meta device (nothing allocated)."""
    import torch

    ns: dict = {"__name__": "drtriton_search_gpu"}
    exec(compile(src, "<problem>", "exec"), ns)  # noqa: S102 - our own test problems
    with torch.device("meta"):
        model = ns["Model"](*ns["get_init_inputs"]())
        inputs = ns["get_inputs"]()
        sizes = [x.numel() for x in inputs if isinstance(x, torch.Tensor)]
        sizes += [p.numel() for p in model.parameters()]
        # an op without a meta kernel leaves the outputs uncounted: inputs and parameters still bound it
        with contextlib.suppress(Exception):
            out = model(*inputs)
            outs = out if isinstance(out, (tuple, list)) else [out]
            sizes += [o.numel() for o in outs if isinstance(o, torch.Tensor)]
    return max(sizes, default=0)


def realistic(src: str, target: int, max_factor: int = 4096) -> tuple[str, int, int]:
    """(scaled source, factor, largest tensor): the largest power-of-two factor within `target` elements."""
    factor, best = 1, (src, 1, largest_tensor(src))
    while factor * 2 <= max_factor:
        factor *= 2
        candidate = scaled(src, factor)
        size = largest_tensor(candidate)
        if size > target:
            break
        best = (candidate, factor, size)
    return best


def problems(names: list[str], target: int, n_synth: int, seed: int) -> list[dict]:
    out = []
    for name in names:
        src = (ROOT / "tests" / "problems" / f"{name}.py").read_text(encoding="utf-8")
        big, factor, size = realistic(src, target)
        out.append({"problem": name, "source": big, "scale": factor, "largest_tensor": size})
    if n_synth:
        from drtriton.synth import SynthConfig, synthesize

        for task in synthesize(SynthConfig(n=n_synth, level=5, seed=seed, shape_scale="realistic")):
            out.append({"problem": f"synth5_{str(task['hash'])[:10]}", "source": task["program"], "scale": None,
                        "largest_tensor": largest_tensor(task["program"])})
    return out


def _f(x, w: int) -> str:
    return f"{x:>{w}.3f}" if isinstance(x, float) else f"{'-':>{w}s}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", default=",".join(DEFAULT_PROBLEMS),
                    help="comma-separated tests/problems names, or 'all' (default: a fixed 17)")
    ap.add_argument("--synth", type=int, default=5, help="synthesized level-5 programs (realistic shapes)")
    ap.add_argument("--target-elements", type=int, default=1 << 24, help="largest tensor after scaling")
    ap.add_argument("--max-candidates", type=int, default=6, help="verified candidates per problem")
    ap.add_argument("--max-seconds", type=float, default=15.0, help="search wall time per problem")
    ap.add_argument("--total-seconds", type=float, default=400.0,
                    help="stop starting new problems after this long (run again to resume)")
    ap.add_argument("--problem-timeout", type=float, default=60.0, help="seconds one verification may take")
    ap.add_argument("--max-fragment-nodes", type=int, default=3)
    ap.add_argument("--policy", default="hybrid", choices=["strict", "mixed", "hybrid"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "out")) / "search_gpu.json")
    args = ap.parse_args(argv)

    from drtriton.verify import VerifyConfig

    began = time.monotonic()
    names = sorted(p.stem for p in (ROOT / "tests" / "problems").glob("*.py") if not p.name.startswith("test_")) \
        if args.problems == "all" else [n.strip() for n in args.problems.split(",") if n.strip()]
    todo = problems(names, args.target_elements, args.synth, args.seed)
    settings = {k: getattr(args, k) for k in ("max_candidates", "max_seconds", "max_fragment_nodes", "policy",
                                               "problem_timeout", "seed")}
    done: dict[str, dict] = {}
    if args.out.exists():  # resume: rows of the same problem text under the same settings are kept
        prev = json.loads(args.out.read_text(encoding="utf-8"))
        if prev.get("settings") == settings:
            done = {r["key"]: r for r in prev.get("rows", []) if r.get("key")}
    print(f"{len(todo)} problems, chosen before running: {[p['problem'] for p in todo]}")
    backend = EngineBackend(VerifyConfig(policy=args.policy, timeout_s=args.problem_timeout))
    if not backend.gpu:
        print("no GPU: correctness only; every speed below is None (not measured)", file=sys.stderr)
    print(f"{'problem':28s} {'scale':>5s} {'elems':>9s} {'kind':9s} {'vs eager':>9s} {'vs compile':>10s} "
          f"{'single':>8s} {'vs single':>9s} {'cands':>5s} {'gpu_s':>7s}")
    rows, skipped = [], []
    for p in todo:
        key = hashlib.sha256(p["source"].encode()).hexdigest()[:16]
        if key in done:
            rows.append(done[key])
            continue
        if time.monotonic() - began > args.total_seconds:
            skipped.append(p["problem"])
            continue
        cfg = SearchConfig(max_candidates=args.max_candidates, max_seconds=args.max_seconds, patience=None,
                           max_fragment_nodes=args.max_fragment_nodes, policy=args.policy, seed=args.seed,
                           cache_dir=args.out.parent / "search_cache")  # shared: repeated fragments are free
        t0 = time.monotonic()
        row = {"problem": p["problem"], "key": key, "scale": p["scale"], "largest_tensor": p["largest_tensor"]}
        try:
            r = optimize(p["source"], cfg, backend=backend)
            row |= {"kind": r.kind, "status": (r.verdict or {}).get("status"),
                    "speedup_vs_eager": r.speedup_vs_eager, "speedup_vs_compile": r.speedup_vs_compile,
                    "single_shot_speedup": r.single_shot_speedup,
                    "single_shot_vs_compile": r.single_shot_speedup_vs_compile,
                    "speedup_vs_single_shot": r.speedup_vs_single_shot, "candidates": r.candidates_tried,
                    "cache_hits": r.cache_hits, "gpu_seconds": r.gpu_seconds, "wall_seconds": r.wall_seconds,
                    "stop_reason": r.stop_reason, "plan": r.plan, "notes": r.notes[:5], "error": None,
                    "trials": [{k: t[k] for k in ("nodes", "meta", "status", "reason", "speedup_vs_eager")}
                               for t in r.to_json()["trials"]]}
        except Exception as exc:  # noqa: BLE001 - one bad problem is a row with its error, not a crash
            row |= {"kind": "error", "status": None, "speedup_vs_eager": None, "speedup_vs_compile": None,
                    "single_shot_speedup": None, "single_shot_vs_compile": None, "speedup_vs_single_shot": None,
                    "candidates": None, "gpu_seconds": None, "wall_seconds": time.monotonic() - t0,
                    "stop_reason": None, "plan": [], "notes": [], "error": f"{type(exc).__name__}: {exc}"[:300]}
        rows.append(row)
        print(f"{p['problem'][:28]:28s} {p['scale'] or '-'!s:>5s} {p['largest_tensor']:>9d} {row['kind']:9s} "
              f"{_f(row['speedup_vs_eager'], 9)} {_f(row['speedup_vs_compile'], 10)} "
              f"{_f(row['single_shot_speedup'], 8)} {_f(row['speedup_vs_single_shot'], 9)} "
              f"{row['candidates'] if row['candidates'] is not None else '-':>5} {_f(row['gpu_seconds'], 7)}"
              f"  [{time.monotonic() - began:.0f}s]", flush=True)
        write(args, settings, rows, skipped, backend.gpu, began)
    backend.close()
    summary = write(args, settings, rows, skipped, backend.gpu, began)
    print(json.dumps(summary, indent=2))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def write(args, settings: dict, rows: list[dict], skipped: list[str], gpu: bool, began: float) -> dict:
    single_ok = [r for r in rows if r.get("single_shot_speedup") is not None]
    summary = {
        "problems": len(rows), "not_run": skipped,
        "verified": sum(r["status"] == "correct" for r in rows),
        "geomean_searched_vs_single_shot": geomean([r["speedup_vs_single_shot"] for r in rows]),
        "geomean_speedup_vs_eager": geomean([r["speedup_vs_eager"] for r in rows]),
        "geomean_speedup_vs_compile": geomean([r["speedup_vs_compile"] for r in rows]),
        "geomean_single_shot_vs_eager": geomean([r["single_shot_speedup"] for r in rows]),
        "geomean_single_shot_vs_compile": geomean([r.get("single_shot_vs_compile") for r in rows]),
        "faster_than_compile": sum((r["speedup_vs_compile"] or 0) > 1 for r in rows),
        "searched_worse_than_verified_single_shot": sum(
            (r["speedup_vs_single_shot"] or 1.0) < 1.0 for r in single_ok),
        "total_candidates": sum(r["candidates"] or 0 for r in rows),
        "total_gpu_seconds": sum(r["gpu_seconds"] or 0 for r in rows) if gpu else None,
        "wall_seconds": time.monotonic() - began,
        "note": "geomeans are over problems where both sides were measured; None = not measured",
    }
    atomic_write_text(args.out, json.dumps({"summary": summary, "settings": settings, "rows": rows,
                                            "args": vars(args) | {"out": str(args.out)},
                                            "provenance": Provenance.here().to_json()}, indent=2, default=str))
    return summary


if __name__ == "__main__":
    sys.exit(main())
