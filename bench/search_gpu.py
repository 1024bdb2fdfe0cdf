"""GPU evidence for test-time search: searched result vs the single-shot rule-based output, vs eager, vs
torch.compile, with the budget used, on >= 20 problems (tests/problems at scaled-up sizes + synthesized
level-5 programs at realistic shapes).

    python bench/search_gpu.py --max-candidates 48 --synth 8 --out $OUT/search_gpu.json

Prints one row per problem and the geomeans; writes everything to JSON (--out, default $OUT/search_gpu.json).
Without a GPU it still runs (correctness only) and every speed is None: no numbers are made up.
"""

from __future__ import annotations

import argparse
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

# Size constants that are safe to scale (batch and length-like); kernel sizes, strides, channels of a
# conv's input, and scalars are left alone.
_SCALABLE = re.compile(r"^(BATCH|ROWS|N|M|SEQ|LENGTH|COLS)\s*=\s*(\d+)\s*$", re.MULTILINE)
_WIDTHS = re.compile(r"^(\w*FEATURES|HIDDEN|INNER)\s*=\s*(\d+)\s*$", re.MULTILINE)


def scaled(src: str, scale: int, width_scale: int = 16) -> str:
    """The problem with batch/length constants times `scale` and feature widths times `width_scale`."""
    src = _SCALABLE.sub(lambda m: f"{m.group(1)} = {int(m.group(2)) * scale}", src)
    return _WIDTHS.sub(lambda m: f"{m.group(1)} = {int(m.group(2)) * width_scale}", src)


def problems(scale: int, width_scale: int, n_synth: int, seed: int) -> list[tuple[str, str]]:
    out = []
    for path in sorted((ROOT / "tests" / "problems").glob("*.py")):
        if not path.name.startswith("test_"):
            out.append((path.stem, scaled(path.read_text(encoding="utf-8"), scale, width_scale)))
    if n_synth:
        from drtriton.synth import SynthConfig, synthesize

        for task in synthesize(SynthConfig(n=n_synth, level=5, seed=seed, shape_scale="realistic")):
            out.append((f"synth5_{str(task['hash'])[:10]}", task["program"]))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-candidates", type=int, default=48, help="per problem")
    ap.add_argument("--max-seconds", type=float, default=900.0, help="wall time per problem")
    ap.add_argument("--max-fragment-nodes", type=int, default=4)
    ap.add_argument("--policy", default="hybrid", choices=["strict", "mixed", "hybrid"])
    ap.add_argument("--scale", type=int, default=64, help="multiplier for batch/length constants of tests/problems")
    ap.add_argument("--width-scale", type=int, default=16, help="multiplier for feature widths of tests/problems")
    ap.add_argument("--synth", type=int, default=8, help="synthesized level-5 programs (realistic shapes)")
    ap.add_argument("--limit", type=int, default=None, help="run only the first N problems")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "out")) / "search_gpu.json")
    args = ap.parse_args(argv)

    from drtriton.verify import VerifyConfig

    backend = EngineBackend(VerifyConfig(policy=args.policy))
    if not backend.gpu:
        print("no GPU: correctness only; every speed below is None (not measured)", file=sys.stderr)
    rows = []
    todo = problems(args.scale, args.width_scale, args.synth, args.seed)[: args.limit]
    print(f"{'problem':32s} {'kind':9s} {'vs eager':>9s} {'vs compile':>10s} {'single':>8s} "
          f"{'vs single':>9s} {'cands':>5s} {'gpu_s':>7s}")
    for name, src in todo:
        cfg = SearchConfig(max_candidates=args.max_candidates, max_seconds=args.max_seconds,
                           max_fragment_nodes=args.max_fragment_nodes, policy=args.policy, seed=args.seed,
                           cache_dir=args.out.parent / "search_cache")  # shared: repeated fragments are free
        t0 = time.monotonic()
        try:
            r = optimize(src, cfg, backend=backend)
            row = {"problem": name, "kind": r.kind, "status": (r.verdict or {}).get("status"),
                   "speedup_vs_eager": r.speedup_vs_eager, "speedup_vs_compile": r.speedup_vs_compile,
                   "single_shot_speedup": r.single_shot_speedup, "speedup_vs_single_shot": r.speedup_vs_single_shot,
                   "candidates": r.candidates_tried, "cache_hits": r.cache_hits, "gpu_seconds": r.gpu_seconds, "wall_seconds": r.wall_seconds,
                   "stop_reason": r.stop_reason, "plan": r.plan, "notes": r.notes[:5], "error": None}
        except Exception as exc:  # noqa: BLE001 - one bad problem is a row with its error, not a crash
            row = {"problem": name, "kind": "error", "status": None, "speedup_vs_eager": None,
                   "speedup_vs_compile": None, "single_shot_speedup": None, "speedup_vs_single_shot": None,
                   "candidates": None, "gpu_seconds": None, "wall_seconds": time.monotonic() - t0,
                   "stop_reason": None, "plan": [], "notes": [], "error": f"{type(exc).__name__}: {exc}"[:300]}
        rows.append(row)

        def f(x, w):
            return f"{x:>{w}.3f}" if isinstance(x, float) else f"{'-':>{w}s}"

        print(f"{name[:32]:32s} {row['kind']:9s} {f(row['speedup_vs_eager'], 9)} {f(row['speedup_vs_compile'], 10)} "
              f"{f(row['single_shot_speedup'], 8)} {f(row['speedup_vs_single_shot'], 9)} "
              f"{row['candidates'] if row['candidates'] is not None else '-':>5} {f(row['gpu_seconds'], 7)}",
              flush=True)
    backend.close()
    summary = {
        "problems": len(rows),
        "verified": sum(r["status"] == "correct" for r in rows),
        "geomean_speedup_vs_eager": geomean([r["speedup_vs_eager"] for r in rows]),
        "geomean_speedup_vs_compile": geomean([r["speedup_vs_compile"] for r in rows]),
        "geomean_single_shot_vs_eager": geomean([r["single_shot_speedup"] for r in rows]),
        "geomean_searched_vs_single_shot": geomean([r["speedup_vs_single_shot"] for r in rows]),
        "total_candidates": sum(r["candidates"] or 0 for r in rows),
        "total_gpu_seconds": sum(r["gpu_seconds"] or 0 for r in rows) if backend.gpu else None,
        "note": "geomeans are over problems where both sides were measured; None = not measured",
    }
    print(json.dumps(summary, indent=2))
    atomic_write_text(args.out, json.dumps({"summary": summary, "rows": rows, "args": vars(args) | {"out": str(args.out)},
                                            "provenance": Provenance.here().to_json()}, indent=2, default=str))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
