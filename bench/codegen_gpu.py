"""GPU benchmark of the non-LLM compiler: correctness and speed of compiled ModelNew vs eager and torch.compile.

    python bench/codegen_gpu.py --problems tests/problems --synth 200 --out $OUT/codegen_gpu.json

For each program: compile (policy mixed), check ModelNew against Model at atol=rtol=1e-4 on fresh inputs,
time both with CUDA events (warm-up, then median of --iters calls), and torch.compile(Model). Also times
each fused pointwise/reduction program's achieved bandwidth (bytes of graph inputs + output / median time)
against a measured device copy bandwidth (torch clone of a 1 GiB buffer). Prints a table and writes JSON.
Unmeasured values are null. Needs a CUDA GPU; the lead runs it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import statistics
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from drtriton.frontend import CompileConfig, compile_problem  # noqa: E402
from drtriton.util.fileio import atomic_write_text  # noqa: E402
from drtriton.util.provenance import Provenance  # noqa: E402


_LOAD_DIR = Path(tempfile.mkdtemp(prefix="drt_codegen_gpu_"))
_LOADED = [0]


def _load(src: str, name: str):
    # From a real file: Triton's @jit reads kernel source with inspect, which needs one.
    _LOADED[0] += 1
    path = _LOAD_DIR / f"{name}_{_LOADED[0]}.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


def _time(fn, inputs, iters: int) -> float:
    for _ in range(5):
        fn(*inputs)
    torch.cuda.synchronize()
    samples = []
    for _ in range(iters):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn(*inputs)
        end.record()
        torch.cuda.synchronize()
        samples.append(start.elapsed_time(end))
    return statistics.median(samples)


def copy_bandwidth_gbs() -> float:
    x = torch.empty(1 << 28, dtype=torch.float32, device="cuda")
    ms = _time(lambda t: t.clone(), [x], 20)
    return 2 * x.numel() * 4 / (ms * 1e-3) / 1e9


def bench_one(name: str, src: str, iters: int, with_compile: bool) -> dict:
    row = {"name": name, "correct": None, "eager_ms": None, "new_ms": None, "compile_ms": None,
           "speedup_eager": None, "speedup_compile": None, "bandwidth_gbs": None, "kinds": None, "error": None}
    try:
        result = compile_problem(src, CompileConfig(policy="mixed"))
    except Exception as exc:  # noqa: BLE001 - recorded per program
        row["error"] = f"compile: {exc}"
        return row
    row["kinds"] = [k["kind"] for k in result.report["kernels"]]
    prob, sol = _load(src, "problem"), _load(result.source, "solution")
    torch.manual_seed(42)
    model = prob.Model(*prob.get_init_inputs()).cuda()
    torch.manual_seed(42)
    model_new = sol.ModelNew(*prob.get_init_inputs()).cuda()
    torch.manual_seed(0)
    inputs = [t.cuda() for t in prob.get_inputs()]
    with torch.no_grad():
        try:
            ref, out = model(*inputs), model_new(*inputs)
        except Exception as exc:  # noqa: BLE001
            row["error"] = f"run: {exc}"
            return row
        ref = ref if isinstance(ref, tuple) else (ref,)
        out = out if isinstance(out, tuple) else (out,)
        row["correct"] = all(r.shape == o.shape and torch.allclose(o.float(), r.float(), atol=1e-4, rtol=1e-4)
                             for r, o in zip(ref, out))
        row["eager_ms"] = _time(model, inputs, iters)
        row["new_ms"] = _time(model_new, inputs, iters)
        row["speedup_eager"] = row["eager_ms"] / row["new_ms"]
        if with_compile:
            try:
                row["compile_ms"] = _time(torch.compile(model), inputs, iters)
                row["speedup_compile"] = row["compile_ms"] / row["new_ms"]
            except Exception as exc:  # noqa: BLE001
                row["error"] = f"torch.compile: {exc}"
    if set(row["kinds"]) <= {"pointwise", "reduction", "normalization"} and len(row["kinds"]) == 1:
        moved = sum(t.numel() * t.element_size() for t in inputs) + sum(o.numel() * o.element_size() for o in out)
        row["bandwidth_gbs"] = moved / (row["new_ms"] * 1e-3) / 1e9
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=Path, default=Path(__file__).resolve().parents[1] / "tests" / "problems")
    ap.add_argument("--synth", type=int, default=0, help="also this many synthesized programs per level 1, 2, 5 "
                    "(shape_scale=realistic)")
    ap.add_argument("--iters", type=int, default=100)
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile baseline")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("codegen_gpu: needs a CUDA GPU; nothing measured", file=sys.stderr)
        return 2
    programs = [(p.stem, p.read_text()) for p in sorted(args.problems.glob("*.py")) if not p.name.startswith("test_")]
    if args.synth:
        from drtriton.synth import SynthConfig, synthesize
        for level in (1, 2, 5):
            for t in synthesize(SynthConfig(n=args.synth, level=level, seed=11, shape_scale="realistic")):
                programs.append((f"synth_l{level}_{t['hash'][:8]}", t["program"]))
    copy_bw = copy_bandwidth_gbs()
    rows = []
    for name, src in programs:
        row = bench_one(name, src, args.iters, not args.no_compile)
        rows.append(row)
        print(f"{name:40s} correct={row['correct']} eager={row['speedup_eager']} compile={row['speedup_compile']} "
              f"bw={row['bandwidth_gbs']} {row['error'] or ''}", flush=True)
    ok = [r for r in rows if r["correct"]]
    def geo(key):
        vals = [r[key] for r in ok if r[key]]
        return math.exp(sum(math.log(v) for v in vals) / len(vals)) if vals else None
    bws = [r["bandwidth_gbs"] / copy_bw for r in ok if r["bandwidth_gbs"]]
    summary = {
        "programs": len(rows), "compiled": sum(r["kinds"] is not None for r in rows), "correct": len(ok),
        "faster_than_eager": (sum(r["speedup_eager"] > 1 for r in ok) / len(ok)) if ok else None,
        "faster_than_compile": (sum((r["speedup_compile"] or 0) > 1 for r in ok) / len(ok)) if ok else None,
        "geomean_speedup_eager": geo("speedup_eager"), "geomean_speedup_compile": geo("speedup_compile"),
        "copy_bandwidth_gbs": copy_bw,
        "median_bandwidth_fraction": statistics.median(bws) if bws else None,
    }
    print(json.dumps(summary, indent=2))
    report = {"summary": summary, "rows": rows, "provenance": Provenance.here().to_json()}
    if args.out:
        atomic_write_text(args.out, json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
