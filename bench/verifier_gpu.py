"""Verifier on a GPU: (a) timing agreement with triton.testing.do_bench, (b) verification throughput.

    python bench/verifier_gpu.py --out $OUT/verifier_gpu.json            # on an H100 (16 cores)
    python bench/verifier_gpu.py --part b --workers 16 --n 64

(a) For >= 10 honest solutions in tests/redteam/honest, the verifier's median (CUDA events, L2 flush,
    interleaved with eager) against do_bench's median on the same module and inputs; target within
    10%. Two sizes: the problems as written (launch-scale, a few microseconds) and scaled up
    (--agreement-scale: the first size constant x128, the others x32, capped at 2^26 elements).
(b) 64 distinct small elementwise kernels (8 ops x 8 block sizes) through VerifierPool: candidates
    fully verified per minute, the compile share (worker import/build + first call, which includes
    Triton JIT) of worker time and a per-phase breakdown; target >= 120/min. Two batches: every
    kernel its own problem (64 problems: 64 references and torch.compile baselines), and the RL/search
    shape (8 problems x 8 candidates). Each verdict's phase_s also says where the candidate waited on
    others (reference, worker start, timing slot, GPU lock, judge, baseline: WAIT_PHASES);
    --overlap-baselines both runs the batch twice, the second time with candidates waiting for a
    torch.compile baseline leaving their turn to the next.
Prints what it measures; writes JSON (with provenance) to --out.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from drtriton.util.fileio import atomic_write_text  # noqa: E402
from drtriton.util.provenance import Provenance  # noqa: E402
from drtriton.util.stats import quantile  # noqa: E402
from drtriton.verify import Status, VerifierPool, VerifyConfig  # noqa: E402
from drtriton.verify.reuse import DEFAULT_REUSE  # noqa: E402
from drtriton.verify.worker import _load_module  # noqa: E402

# ---- (a) agreement with do_bench ----
AGREEMENT_FILES = [
    "relu__elementwise.py",
    "gelu__elementwise.py",
    "softplus__thresholded.py",
    "layer_norm__row_kernel.py",
    "softmax_rows__online_looped.py",
    "matmul__tl_dot_tiled.py",
    "bmm__tl_dot_batched.py",
    "rms_norm__row_kernel.py",
    "sum_reduction__strided_tile.py",
    "mean_reduction__row_kernel.py",
    "max_reduction__row_kernel.py",
    "l2_normalize__row_kernel.py",
    "logsumexp_rows__online_chunks.py",
    "tanh__exp_form.py",
]


def do_bench_median(problem_path: Path, solution_path: Path, seed: int) -> float:
    import torch
    import triton.testing

    problem = _load_module(str(problem_path), f"bp_{problem_path.stem}")
    solution = _load_module(str(solution_path), f"bs_{solution_path.stem}")
    torch.manual_seed(seed)
    init = list(problem.get_init_inputs())
    torch.manual_seed(seed)
    model = solution.ModelNew(*init).cuda()
    torch.manual_seed(seed)
    inputs = [x.cuda() if isinstance(x, torch.Tensor) else x for x in problem.get_inputs()]
    with torch.no_grad():
        # As the verifier does: 0.2 s of back-to-back calls first, so do_bench's 25 ms warm-up starts at
        # the full SM clock (an idle H100 sits at 345 MHz and does not always ramp within 25 ms).
        deadline = time.perf_counter() + 0.2
        while time.perf_counter() < deadline:
            model(*inputs)
            torch.cuda.synchronize()
        return float(
            triton.testing.do_bench(lambda: model(*inputs), warmup=25, rep=100, return_mode="median")
        )


_SIZE = re.compile(r"^([A-Z][A-Z0-9_]*)\s*=\s*(\d+)\s*$", re.MULTILINE)


def scale_sizes(src: str, first: int = 128, rest: int = 32, cap: int = 1 << 26) -> str:
    """Module-level size constants scaled: the first (batch-like) x`first`, the others x`rest`, both
    halved until the product of all constants is at most `cap`."""
    sizes = [(m.group(1), int(m.group(2))) for m in _SIZE.finditer(src)]
    if not sizes:
        return src
    while first > 1 or rest > 1:
        prod = 1
        for i, (_, v) in enumerate(sizes):
            prod *= v * (first if i == 0 else rest)
        if prod <= cap:
            break
        first, rest = (max(1, first // 2), rest) if first >= rest else (first, max(1, rest // 2))
    factors = {name: (first if i == 0 else rest) for i, (name, _) in enumerate(sizes)}
    return _SIZE.sub(lambda m: f"{m.group(1)} = {int(m.group(2)) * factors[m.group(1)]}", src)


def part_a(config: VerifyConfig, scale: bool, spawn: str = "auto") -> dict:
    import tempfile

    honest = ROOT / "tests" / "redteam" / "honest"
    files = [honest / f for f in AGREEMENT_FILES if (honest / f).exists()]
    if len(files) < 10:  # fall back to whatever honest files exist
        files = sorted(honest.glob("*.py"))[:12]
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="agreement-"))
    with VerifierPool(config, workers=1, spawn=spawn) as pool:
        for f in files:
            problem = ROOT / "tests" / "problems" / f"{f.stem.split('__')[0]}.py"
            if scale:
                scaled_path = tmp / problem.name
                scaled_path.write_text(scale_sizes(problem.read_text()))
                problem = scaled_path
            v = pool.verify(problem.read_text(), f.read_text())
            ours = v.timing.candidate_ms if v.timing else None
            theirs = do_bench_median(problem, f, config.init_seed)
            # do_bench once more, same module and inputs: how far it moves from itself at this size
            again = do_bench_median(problem, f, config.init_seed)
            ratio = ours / theirs if ours and theirs else None
            rows.append(
                {
                    "file": f.name,
                    "status": str(v.status),
                    "reason": v.reason,
                    "verifier_ms": ours,
                    "do_bench_ms": theirs,
                    "do_bench_again_ms": again,
                    "do_bench_self_ratio": again / theirs if theirs else None,
                    "ratio": ratio,
                    "host_ms": v.timing.host_ms if v.timing else None,
                    "scaled": scale,
                }
            )
            print(
                f"(a{'-scaled' if scale else ''}) {f.name:40s} {v.status!s:14s} ours {ours} ms "
                f"do_bench {theirs:.4f} ms ratio {ratio} (do_bench again {again:.4f} ms: {again / theirs:.3f})",
                flush=True,
            )
    ratios = [r["ratio"] for r in rows if r["ratio"]]
    within = sum(1 for r in ratios if abs(r - 1) <= 0.10)
    selfs = [r["do_bench_self_ratio"] for r in rows if r["do_bench_self_ratio"]]
    self_within = sum(1 for r in selfs if abs(r - 1) <= 0.10)
    print(
        f"(a) {within}/{len(ratios)} kernels within 10% of do_bench; median ratio "
        f"{statistics.median(ratios) if ratios else None}; do_bench within 10% of itself on {self_within}/{len(selfs)}"
    )
    return {
        "rows": rows,
        "n": len(ratios),
        "within_10pct": within,
        "median_ratio": statistics.median(ratios) if ratios else None,
        "do_bench_self_within_10pct": self_within,
    }


# ---- (b) throughput ----
# Worker phases (verify/worker.py) and where the parent or the worker waited on something shared
# (verify/pool.py, verify/gpu_quiet.py): the per-problem reference and baseline, a worker to start, the
# GPU memory gate, the per-GPU timing slot, the judge, the GPU lock (shared sections, exclusive timing).
WORKER_PHASES = ("load_s", "first_call_s", "correctness_s", "input_draw_s", "timing_prepare_s", "timing_s")
WAIT_PHASES = (
    "reference_s",
    "take_worker_s",
    "ready_wait_s",
    "worker_context_s",
    "worker_section_s",
    "gate_wait_s",
    "shared_wait_s",
    "judge_s",
    "judge_lock_s",
    "judge_requests",
    "gpu_slot_wait_s",
    "quiet_wait_s",
    "quiet_hold_s",
    "baseline_wait_s",
    "baseline_compile_s",
    "baseline_timing_s",
)
OPS = {  # name: (torch expression on t, triton expression on v)
    "relu": ("torch.relu(t)", "tl.maximum(v, 0.0)"),
    "sigmoid": ("torch.sigmoid(t)", "tl.sigmoid(v)"),
    "silu": ("t * torch.sigmoid(t)", "v * tl.sigmoid(v)"),
    "abs": ("torch.abs(t)", "tl.abs(v)"),
    "square": ("t * t", "v * v"),
    "neg": ("-t", "-v"),
    "leaky": ("torch.where(t > 0, t, 0.01 * t)", "tl.where(v > 0, v, 0.01 * v)"),
    "exp": ("torch.exp(t)", "tl.exp(v)"),
}
BLOCKS = (64, 128, 256, 512, 1024, 2048, 4096, 8192)

PROBLEM_T = """import torch
import torch.nn as nn


class Model(nn.Module):
    def forward(self, x):
        t = x * {scale} + {shift}
        return {torch_expr}


def get_inputs():
    return [torch.randn(1024, 1024)]


def get_init_inputs():
    return []
"""
SOLUTION_T = """import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def {name}_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    v = tl.load(x_ptr + offs, mask=mask) * {scale} + {shift}
    tl.store(y_ptr + offs, {triton_expr}, mask=mask)


class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        n = x.numel()
        {name}_kernel[(triton.cdiv(n, {block}),)](x, y, n, BLOCK={block})
        return y
"""


def batch_pairs(n: int, problems: int | None = None, salt: int = 0) -> list[tuple[str, str]]:
    """n distinct kernels (op x block size); `problems` distinct problem constants (None: one each); another
    `salt` gives other problems and kernels (a later batch on a warm pool: no reference or verdict reused)."""
    pairs = []
    for i in range(n):
        name, (torch_expr, triton_expr) = list(OPS.items())[i % len(OPS)]
        block = BLOCKS[(i // len(OPS)) % len(BLOCKS)]
        k = i if problems is None else i % problems
        scale, shift = f"{1.0 + 0.01 * k:.2f}", f"{0.001 * k + 0.25 * salt:.3f}"
        pairs.append(
            (
                PROBLEM_T.format(scale=scale, shift=shift, torch_expr=torch_expr),
                SOLUTION_T.format(name=name, scale=scale, shift=shift, triton_expr=triton_expr, block=block),
            )
        )
    return pairs


def outliers(timeline: list[dict], factor: float = 3.0) -> list[dict]:
    """Verdicts whose candidate median is past `factor` x the batch's median (the kernels are alike), with
    what else was measured for them: their eager median against the batch's, their samples' spread, the
    worker's candidate count, and the waits for the GPU lock."""
    cands = [r["candidate_ms"] for r in timeline if r.get("candidate_ms")]
    eagers = [r["eager_ms"] for r in timeline if r.get("eager_ms")]
    if not cands:
        return []
    mid_c, mid_e = statistics.median(cands), statistics.median(eagers) if eagers else None
    keys = ("i", "candidate_ms", "candidate_p10", "candidate_p90", "eager_ms", "eager_p10", "eager_p90", "host_ms",
            "worker_uses", "quiet_wait_s", "quiet_hold_s", "not_quiet", "start_s", "end_s")
    out = []
    for r in timeline:
        if r.get("candidate_ms") and r["candidate_ms"] > factor * mid_c:
            row = {k: r.get(k) for k in keys}
            row["x_batch_median"] = r["candidate_ms"] / mid_c
            row["eager_x_batch_median"] = r["eager_ms"] / mid_e if r.get("eager_ms") and mid_e else None
            out.append(row)
    return out


def part_b(
    config: VerifyConfig,
    n: int,
    workers: int,
    problems: int | None,
    spawn: str = "auto",
    overlap: bool = False,
    spares: int | None = None,
    reuse: int = 1,
    warm_batches: int = 0,
    fresh_triton_cache: bool = True,
) -> dict:
    """warm_batches: batches of other problems run on the same pool first (untimed but for their wall);
    the figures are the last batch's, on a warm pool. spares: warm workers kept per GPU (VerifierPool; None:
    one per worker). overlap: every candidate submitted at once, `workers` verifying at a time (VerifierPool max_running);
    one waiting for its problem's torch.compile baseline leaves its turn to the next. Without it, `workers`
    threads as verify_many runs them, each held until its verdict, baseline wait included."""
    from concurrent.futures import ThreadPoolExecutor

    threads = n if overlap else workers
    warm_walls = []
    if fresh_triton_cache:  # every kernel compiled in this pool, none loaded from an earlier pool's cache
        import os
        import tempfile

        os.environ["TRITON_CACHE_DIR"] = tempfile.mkdtemp(prefix="drt_bench_triton_")
    with VerifierPool(config, workers=workers, spawn=spawn, max_running=workers if overlap else None,
                      spares=spares, reuse=reuse) as pool:
        for salt in range(1, warm_batches + 1):
            t0 = time.perf_counter()
            warm = batch_pairs(n, problems, salt)
            with ThreadPoolExecutor(max_workers=threads) as ex:
                warm_statuses = [str(v.status) for v in ex.map(lambda pr: pool.verify(*pr), warm)]
            warm_walls.append(time.perf_counter() - t0)
            print(f"(b) warm-up batch {salt}: {len(warm)} candidates in {warm_walls[-1]:.1f} s "
                  f"({len(warm) / warm_walls[-1] * 60:.1f}/min), {warm_statuses.count('correct')} correct",
                  file=sys.stderr, flush=True)
        pairs = batch_pairs(n, problems)
        timeline = []
        t0 = time.perf_counter()

        def one(i: int):
            start = time.perf_counter() - t0
            v = pool.verify(*pairs[i])
            end = time.perf_counter() - t0
            timeline.append(
                {
                    "i": i,
                    "start_s": start,
                    "end_s": end,
                    "status": str(v.status),
                    **v.phase_s,
                    # the timings themselves, to compare with earlier runs: shorter waits must not move them
                    "candidate_ms": v.timing.candidate_ms if v.timing else None,
                    "eager_ms": v.timing.eager_ms if v.timing else None,
                    "compile_ms": v.timing.compile_ms if v.timing else None,
                    "not_quiet": any(n.startswith("timed while other GPU work") for n in v.notes),
                    # spread of the samples behind each median (an outlier median: all slow, or a slow stretch?)
                    **{f"{who}_p{q}": quantile(samples, q / 100) if (samples := getattr(v.timing, f"{who}_samples"))
                       else None for who in ("candidate", "eager") for q in (10, 90) if v.timing},
                    "host_ms": v.timing.host_ms if v.timing else None,
                    "n_calls": v.timing.n_calls if v.timing else None,
                }
            )
            print(
                f"(b) #{i:02d} {start:6.1f}-{end:6.1f} s {v.status!s:14s} "
                + " ".join(f"{k}={x:.2f}" for k, x in v.phase_s.items()),
                file=sys.stderr,
                flush=True,
            )
            return v

        with ThreadPoolExecutor(max_workers=threads) as ex:  # as verify_many, with a timeline
            verdicts = list(ex.map(one, range(len(pairs))))
        wall = time.perf_counter() - t0
        pool_stats = pool.stats()  # what the parent held: largest frame, reference outputs cached
    print(file=sys.stderr)
    statuses = {}
    for v in verdicts:
        statuses[str(v.status)] = statuses.get(str(v.status), 0) + 1

    def phase(v, name):
        return v.phase_s.get(name, 0.0)

    # compile share: candidate import/build + first call (Triton JIT) over all worker phases; the
    # torch.compile baseline (timing_prepare_s) is reported separately.
    compile_s = sum(phase(v, "load_s") + phase(v, "first_call_s") for v in verdicts)
    baseline_compile_s = sum(phase(v, "timing_prepare_s") for v in verdicts)
    worker_s = sum(
        phase(v, "load_s") + phase(v, "correctness_s") + phase(v, "timing_prepare_s") + phase(v, "timing_s")
        for v in verdicts
    )
    per_min = len(verdicts) / wall * 60
    share = compile_s / worker_s if worker_s else None
    print(
        f"(b) {len(verdicts)} candidates in {wall:.1f} s = {per_min:.1f}/min with {workers} workers; "
        f"statuses {statuses}; compile share of worker time {share}"
    )
    if pool_stats.get("reuse", 1) > 1:
        print(f"(b) reuse {pool_stats['reuse']}: {pool_stats['candidates_on_reused_workers']} candidates on reused "
              f"workers; not reused: {pool_stats['reuse_refusals']}")
        for why, example in (pool_stats.get("reuse_refusal_examples") or {}).items():
            print(f"(b)   {why}: {' | '.join(example)}")
    failures = [v.reason for v in verdicts if v.status is not Status.CORRECT][:5]
    phases = {}
    for name in WORKER_PHASES + WAIT_PHASES:
        xs = [v.phase_s[name] for v in verdicts if name in v.phase_s]
        phases[name] = {"median": statistics.median(xs) if xs else None, "sum": sum(xs), "n": len(xs)}
    print(f"(b) phases (median s): { {k: v['median'] for k, v in phases.items() if k in WORKER_PHASES} }")
    print(f"(b) waits (median s): { {k: v['median'] for k, v in phases.items() if k in WAIT_PHASES} }")
    # After the first `workers` verdicts (which wait for their problems' torch.compile baselines): the rate
    # the pool keeps once every baseline is there.
    ends = sorted(r["end_s"] for r in timeline)
    span = ends[-1] - ends[workers - 1] if len(ends) > workers else 0.0
    steady = (len(ends) - workers) / span * 60 if span > 0 else None
    print(f"(b) after the first {workers} verdicts: {None if steady is None else round(steady, 1)}/min")
    cand_ms = [r["candidate_ms"] for r in timeline if r["candidate_ms"]]
    not_quiet = sum(1 for r in timeline if r["not_quiet"])
    median_ms = statistics.median(cand_ms) if cand_ms else None
    print(f"(b) candidate_ms median {median_ms}; timed without the GPU alone: {not_quiet}", flush=True)
    slow = outliers(timeline)
    for row in slow:
        print(f"(b) outlier: {row}", flush=True)
    speedups = [v.speedup_vs_compile for v in verdicts if v.speedup_vs_compile]
    scopes = sorted({v.timing.compile_scope for v in verdicts if v.timing and v.timing.compile_scope})
    return {
        "n": len(verdicts),
        "problems": problems or len(verdicts),
        "spawn": spawn,
        "overlap_baselines": overlap,
        "threads": threads,
        "phases": phases,
        "timeline": sorted(timeline, key=lambda r: r["end_s"]),
        "compile_scopes": scopes,
        "with_compile_baseline": len(speedups),
        "workers": workers,
        "wall_s": wall,
        "per_minute": per_min,
        "steady_per_minute": steady,
        "candidate_ms_median": median_ms,
        "timed_not_alone": not_quiet,
        "outliers": slow,
        "statuses": statuses,
        "compile_s": compile_s,
        "baseline_compile_s": baseline_compile_s,
        "worker_s": worker_s,
        "compile_share": share,
        "first_failures": failures,
        "pool_stats": pool_stats,
        "warm_batches": warm_batches,
        "warm_batch_walls_s": warm_walls,
        "fresh_triton_cache": fresh_triton_cache,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=["a", "b", "both"], default="both")
    ap.add_argument("--n", type=int, default=64, help="(b) batch size")
    ap.add_argument("--workers", type=int, default=16, help="(b) concurrent workers (CPU cores)")
    ap.add_argument(
        "--designs",
        default="8,64",
        help="(b) comma list of distinct-problem counts for the batch (64 = every kernel its own problem)",
    )
    ap.add_argument("--spares", default="",
                    help="(b) comma list of warm workers kept per GPU, one batch each (default: one per worker)")
    ap.add_argument("--reuse", default=str(DEFAULT_REUSE),
                    help="(b) comma list of candidates one worker may serve (1: fresh each; verify/reuse.py), "
                         f"one batch each (default {DEFAULT_REUSE}, the pool's)")
    ap.add_argument("--warm-batches", type=int, default=0,
                    help="(b) batches of other problems run first on the same pool; the figures are then a warm "
                         "pool's (default 0: a cold pool)")
    ap.add_argument("--no-scaled", action="store_true", help="(a) skip the scaled-up sizes")
    ap.add_argument("--shared-triton-cache", action="store_true",
                    help="(b) let each pool load kernels an earlier pool compiled (default: a new TRITON_CACHE_DIR "
                         "per pool, so every candidate's kernel is compiled, as in RL)")
    ap.add_argument(
        "--overlap-baselines",
        choices=["off", "on", "both"],
        default="off",
        help="(b) on: all candidates submitted, --workers verifying at once, those waiting for a "
        "torch.compile baseline leave their turn (VerifierPool max_running); both: off, then on",
    )
    ap.add_argument("--spawn", default="auto", choices=["auto", "zygote", "exec"], help="worker spawning (both parts)")
    ap.add_argument(
        "--out", type=Path, default=None, help="JSON output path (default $OUT/verifier_gpu.json)"
    )
    args = ap.parse_args()
    import os

    import torch

    if not torch.cuda.is_available():
        print("verifier_gpu: no CUDA GPU visible; this benchmark needs one", file=sys.stderr)
        return 2
    out = args.out or Path(os.environ.get("OUT", ".")) / "verifier_gpu.json"
    result = {"provenance": Provenance.here().to_json()}
    if args.part in ("a", "both"):
        config = VerifyConfig(device="cuda", time_compile_baseline=False)
        result["agreement"] = part_a(config, scale=False, spawn=args.spawn)
        if not args.no_scaled:
            # KernelBench's tolerance (1e-2) at the scaled sizes: there tl.dot's TF32 products and long fp32
            # sums leave the honest matmul and sum kernels ~1e-3 from torch, past the default 1e-4, and a
            # kernel that fails correctness is never timed. This part compares clocks, not numerics.
            scaled = VerifyConfig.with_tolerance("kernelbench", device="cuda", time_compile_baseline=False)
            result["agreement_scaled"] = part_a(scaled, scale=True, spawn=args.spawn)
        atomic_write_text(out, json.dumps(result, indent=1))
    if args.part in ("b", "both"):
        result["throughput"] = {}
        overlaps = {"off": [False], "on": [True], "both": [False, True]}[args.overlap_baselines]
        spares_list = [None] if not args.spares else [int(x) for x in args.spares.split(",")]
        reuse_list = [int(x) for x in args.reuse.split(",")]
        for problems in [int(x) for x in args.designs.split(",") if x.strip()]:
            for overlap in overlaps:
                for spares, reuse in [(sp, ru) for sp in spares_list for ru in reuse_list]:
                    run = part_b(VerifyConfig(device="cuda"), args.n, args.workers, problems, args.spawn, overlap,
                                 spares, reuse, args.warm_batches, not args.shared_triton_cache)
                    key = (f"{problems}_problems_{args.spawn}" + ("_overlap" if overlap else "")
                           + (f"_spares{spares}" if spares is not None else "") + (f"_reuse{reuse}" if reuse > 1 else ""))
                    run["spares"], run["reuse"] = spares, reuse
                    result["throughput"][key] = run
                atomic_write_text(out, json.dumps(result, indent=1))
    atomic_write_text(out, json.dumps(result, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
