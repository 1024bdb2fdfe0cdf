"""Multi-GPU scaling on one host (issue 9): verification throughput and RL samples/s on 1..N GPUs.

    python bench/multigpu_gpu.py --out $OUT/multigpu.json                  # both parts, GPU counts 1, 2, 4, .., N
    python bench/multigpu_gpu.py --part verify --gpus 1,2 --per-gpu 16     # one part, chosen counts
    python bench/multigpu_gpu.py --part verify --pool ray                  # through Ray actors (one per GPU)
    python bench/multigpu_gpu.py --part rl --steps 3 --model runs/bench_train/sft/final
    python bench/multigpu_gpu.py --smoke                                   # CPU dry run (2 CPU groups, toy sizes)

verify: HostVerifierPool over the first k GPUs, `--workers-per-gpu` sandboxed workers each (default: CPU
    cores / N, so the largest count uses every core), weak scaling: k * per_gpu distinct elementwise kernels
    (bench/verifier_gpu.py's batch, each its own problem), a fresh Triton cache per count; throughput is
    candidates fully verified per minute, efficiency = throughput_k / (k * throughput_1).
rl: drtriton.train.multigpu with k ranks (nccl), 2 prompts x 8 rollouts per rank and step, samples/s over
    the steps after the first (warm-up); efficiency as above. The model is --model, else the SFT model of
    bench/train_gpu.py when present, else the random built-in `tiny` (then every answer is a format error:
    the figure is generation + update only, and the JSON says so).
On a 1-GPU host only k = 1 is measured and the scaling fields are None. Prints what it measures, writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from drtriton.util.errors import UsageError
from drtriton.util.fileio import atomic_write_text
from drtriton.util.provenance import Provenance

RUN = ROOT / "runs" / "bench_multigpu"


def gpu_counts(n_gpus: int, chosen: str | None) -> list[int]:
    if chosen:
        counts = sorted({int(x) for x in chosen.split(",")})
        if not counts or counts[0] < 1 or counts[-1] > n_gpus:
            raise UsageError(f"--gpus must list counts in 1..{n_gpus}, got {chosen!r}")
        return counts
    counts, k = [], 1
    while k < n_gpus:
        counts.append(k)
        k *= 2
    return counts + [n_gpus]


def efficiency(rows: list[dict], key: str) -> None:
    """Adds `efficiency` (rate_k / (k * rate_1)) to each row; None without a 1-device figure."""
    base = next((r[key] for r in rows if r["gpus"] == 1 and r.get(key)), None)
    for r in rows:
        r["efficiency"] = r[key] / (r["gpus"] * base) if base and r.get(key) else None


# ---- verification throughput ----
def part_verify(args, n_gpus: int, smoke: bool) -> dict:
    from verifier_gpu import batch_pairs

    from drtriton.verify import Status, VerifyConfig
    from drtriton.verify.multi import HostVerifierPool, RayVerifierPool

    counts = gpu_counts(n_gpus, args.gpus)
    workers = args.workers_per_gpu or max(1, (os.cpu_count() or 2) // max(counts))
    config = VerifyConfig(device="cpu" if smoke else "cuda", time_compile_baseline=args.compile_baseline,
                          **({"seeds": (0,), "distributions": ("normal",)} if smoke else {}))
    all_pairs = batch_pairs(sum(k * args.per_gpu for k in counts))  # distinct kernels across counts
    if smoke:  # the interpreter runs every program instance in Python: toy inputs
        all_pairs = [(p.replace("torch.randn(1024, 1024)", "torch.randn(33, 17)"), c) for p, c in all_pairs]
    rows, used, t_start = [], 0, time.time()
    for k in counts:
        if time.time() - t_start > args.budget_s:
            rows.append({"gpus": k, "candidates": None, "per_minute": None, "note": "not run: budget spent"})
            continue
        pairs = all_pairs[used: used + k * args.per_gpu]
        used += len(pairs)
        devices = ["cpu"] * k if smoke else [f"cuda:{i}" for i in range(k)]
        cache_dir = tempfile.mkdtemp(prefix="drt-triton-cache-")
        os.environ["TRITON_CACHE_DIR"] = cache_dir  # workers inherit it: no kernel compiled by an earlier count
        try:
            if args.pool == "ray":  # one actor per GPU; the actors get the fresh Triton cache through Ray
                pool = RayVerifierPool(config, num_actors=k, workers_per_actor=workers,
                                       runtime_env={"env_vars": {"TRITON_CACHE_DIR": cache_dir}})
            else:
                pool = HostVerifierPool(config, devices=devices, workers_per_device=workers)
            with pool:
                t0 = time.perf_counter()
                verdicts = pool.verify_many(pairs, progress=lambda d, t, k=k: print(
                    f"\r(verify) {k} GPU(s): {d}/{t}", end="", file=sys.stderr))
                wall = time.perf_counter() - t0
                per_device = [s["done"] for s in pool.stats()]
        finally:
            shutil.rmtree(cache_dir, ignore_errors=True)
        print(file=sys.stderr)
        correct = sum(v.status is Status.CORRECT for v in verdicts)
        statuses: dict[str, int] = {}
        for v in verdicts:
            statuses[str(v.status)] = statuses.get(str(v.status), 0) + 1
        row = {"gpus": k, "workers_per_gpu": workers, "candidates": len(pairs), "correct": correct,
               "statuses": statuses, "wall_s": wall, "per_minute": 60 * len(pairs) / wall,
               "per_device_done": per_device}
        rows.append(row)
        print(f"(verify) {k} GPU(s) x {workers} workers: {len(pairs)} candidates in {wall:.1f} s = "
              f"{row['per_minute']:.1f}/min ({correct} correct; per device {per_device})")
    efficiency(rows, "per_minute")
    return {"rows": rows, "pool": args.pool, "workers_per_gpu": workers, "per_gpu": args.per_gpu,
            "time_compile_baseline": args.compile_baseline}


# ---- RL samples/s ----
def _model_overrides(args, smoke: bool) -> tuple[dict, str]:
    sft = ROOT / "runs" / "bench_train" / "sft" / "final"
    if args.model is not None:
        return {"model.path": str(args.model)}, f"path {args.model}"
    if sft.is_dir() and not smoke:
        return {"model.path": str(sft)}, f"path {sft} (bench/train_gpu.py's SFT model)"
    from drtriton.train.models import ModelSpec, load_model

    builtin = "test" if smoke else "tiny"
    tok = RUN / "tok"
    corpus = [p.read_text() for p in sorted((ROOT / "tests").glob("*/*.py"))]
    load_model(ModelSpec(builtin=builtin, tokenizer_dir=tok, vocab_size=2048), corpus=corpus)  # saves the tokenizer
    return ({"model.builtin": builtin, "model.tokenizer_dir": str(tok), "model.vocab_size": 2048},
            f"random built-in {builtin}: answers are format errors, so no verification and no update signal")


def part_rl(args, n_gpus: int, smoke: bool) -> dict:
    from drtriton.train.config import load_config
    from drtriton.train.multigpu import MultiGPUConfig, run_rl_multigpu

    counts = gpu_counts(n_gpus, args.gpus)
    model, model_note = _model_overrides(args, smoke)
    rows, t_start = [], time.time()
    for k in counts:
        if time.time() - t_start > args.budget_s:
            rows.append({"gpus": k, "samples_per_s": None, "note": "not run: budget spent"})
            continue
        run_dir = RUN / f"rl_{k}gpu"
        shutil.rmtree(run_dir, ignore_errors=True)
        cfg = load_config(None, {
            **model, "run_dir": str(run_dir), "device": "cpu" if smoke else "auto", "seed": 0,
            "data.source": "folder", "data.folder": str(ROOT / "tests" / "problems"), "data.levels": [1],
            "data.heldout_n": k, "curriculum.levels": [1], "curriculum.eval_every": 10_000, "eval_n": k,
            "rl.algo": "drpo", "rl.rollouts": 2 if smoke else 8, "rl.prompts_per_step": 2 * k,
            "rl.steps": args.steps, "rl.max_new_tokens": args.max_new_tokens, "rl.save_every": 10_000,
            "rl.updates_per_batch": 2, "rl.verify_workers": 2,
            "verify.device": "cpu" if smoke else "auto", "verify.policy": "mixed",
            "verify.time_compile_baseline": False})
        t0 = time.time()
        summary = run_rl_multigpu(cfg, MultiGPUConfig(nproc=k, backend="gloo" if smoke else "auto",
                                                      verify_workers=args.verify_workers_per_rank))
        row = {"gpus": k, "samples_per_s": summary["samples_per_s"], "step_s": summary["step_s"],
               "samples_per_step": summary["samples_per_step"], "optimizer_steps": summary["optimizer_steps"],
               "replicas_in_sync": summary["replicas_in_sync"], "backend": summary["backend"],
               "wall_s": time.time() - t0}
        rows.append(row)
        rate = row["samples_per_s"]
        print(f"(rl) {k} GPU(s): {'not measured' if rate is None else f'{rate:.2f}'} samples/s after warm-up, "
              f"steps {[f'{s:.1f}' for s in row['step_s']]} s, optimizer steps {row['optimizer_steps']}, "
              f"replicas in sync {row['replicas_in_sync']}")
    efficiency(rows, "samples_per_s")
    return {"rows": rows, "model": model_note, "steps": args.steps, "max_new_tokens": args.max_new_tokens}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=["verify", "rl", "both"], default="both")
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "out")) / "multigpu.json",
                    help="JSON result file (default $OUT/multigpu.json)")
    ap.add_argument("--gpus", help="comma-separated GPU counts (default 1, 2, 4, .., all)")
    ap.add_argument("--per-gpu", type=int, default=16, help="verify: candidates per GPU (weak scaling)")
    ap.add_argument("--workers-per-gpu", type=int, help="verify: sandboxed workers per GPU (default cores / N)")
    ap.add_argument("--pool", choices=["host", "ray"], default="host",
                    help="verify: HostVerifierPool, or RayVerifierPool on a local Ray cluster (one actor per GPU)")
    ap.add_argument("--compile-baseline", action="store_true", help="verify: also time torch.compile baselines")
    ap.add_argument("--steps", type=int, default=3, help="rl: steps per GPU count (the first is warm-up)")
    ap.add_argument("--max-new-tokens", type=int, default=256, help="rl: answer cap")
    ap.add_argument("--model", type=Path, help="rl: a local HF model folder (default: see the module docstring)")
    ap.add_argument("--verify-workers-per-rank", type=int, default=2, help="rl: verifier workers per rank")
    ap.add_argument("--budget-s", type=float, default=480, help="per part: no new GPU count starts after this")
    ap.add_argument("--smoke", action="store_true", help="CPU dry run: two CPU 'devices', toy sizes")
    args = ap.parse_args()
    import torch

    if args.smoke:
        os.environ.setdefault("TRITON_INTERPRET", "1")
        n_gpus = 2
        args.per_gpu, args.steps, args.max_new_tokens = min(args.per_gpu, 2), min(args.steps, 2), 8
    else:
        if not torch.cuda.is_available():
            raise UsageError("no CUDA GPU visible; run this on the GPU machine, or pass --smoke for a CPU dry run")
        n_gpus = torch.cuda.device_count()
    result = {"gpus_visible": None if args.smoke else n_gpus, "smoke": args.smoke,
              "provenance": Provenance.here().to_json()}
    if args.smoke:
        result["note"] = "CPU dry run: 'gpus' are CPU worker groups / gloo ranks; the rates are not GPU figures"
    if n_gpus == 1:
        print("measured 1 GPU only: scaling (efficiency from 1 to N GPUs) is not measured on this host")
        result["note"] = "1 GPU only: scaling not measured"
    if args.part in ("verify", "both"):
        if args.pool == "ray":
            import ray

            ray.init(num_cpus=os.cpu_count(), num_gpus=0 if args.smoke else n_gpus, include_dashboard=False,
                     log_to_driver=False)
        result["verify"] = part_verify(args, n_gpus, args.smoke)
    if args.part in ("rl", "both"):
        result["rl"] = part_rl(args, n_gpus, args.smoke)
    for part in ("verify", "rl"):
        for row in result.get(part, {}).get("rows", []):
            if row.get("efficiency") is not None:
                print(f"({part}) {row['gpus']} GPU(s): scaling efficiency {row['efficiency']:.0%}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(result, indent=1, default=str))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UsageError as exc:
        print(f"multigpu_gpu.py: error: {exc}", file=sys.stderr)
        sys.exit(2)
