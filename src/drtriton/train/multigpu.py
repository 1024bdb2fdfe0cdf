"""Data-parallel RL on one host: one process per GPU runs rl.py's rollout, verification and DRPO/GRPO update on
its share of each step's prompts; gradients are averaged across the ranks before every optimizer step.

    torchrun --nproc-per-node 4 -m drtriton.train.multigpu --config configs/train/tiny_rl_drpo_multigpu.yaml
    accelerate launch --multi_gpu --num_processes 4 -m drtriton.train.multigpu --config <same>
    python -m drtriton.train.multigpu --config <same> --nproc 2          # spawns the ranks itself (CPU: gloo)
    python -m drtriton.train.multigpu --config <same> --mode one_policy  # rl.py on one GPU, rewards on the others

Every rank draws the same step's tasks (same seed and stream cursor) and keeps tasks[rank::world]; it
verifies its rollouts in its own VerifierPool on its own GPU (or `multigpu.verify_devices`), so rewards
come from as many verifier pools as there are GPUs. rl.py's `policy_update` runs unchanged: the
optimizer it is given (SyncedOptimizer) averages gradients in `step()`, and a rank whose groups carry no
signal (no step at all) joins the other ranks' steps in `finish()` so replicas stay identical. Rank 0
evaluates its share, logs, checkpoints and exports; the curriculum sees the pass@1 of all ranks.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from drtriton.train.config import RunConfig, load_config
from drtriton.util.errors import UsageError

SUMMARY_FILE = "multigpu_summary.json"
_BUCKET = 1 << 25  # gradient elements per all-reduce (128 MB of fp32): bounded extra memory for large models


@dataclass(frozen=True)
class MultiGPUConfig:
    """The `multigpu:` section of a run config (everything else is a normal RL run config)."""

    nproc: int | None = None  # ranks when this module spawns them (default: CUDA GPUs, else 2); torchrun sets its own
    backend: str = "auto"  # auto (nccl with CUDA, else gloo) | nccl | gloo
    # Verifier device per rank, rank r takes verify_devices[r % len]; None: the rank's own device. Dedicated
    # verification GPUs (e.g. ranks on cuda:0-5, verify on cuda:6,7) keep timing away from training work.
    verify_devices: tuple[str, ...] | None = None
    verify_workers: int | None = None  # verifier workers per rank (default rl.verify_workers)
    master_port: int | None = None  # spawned ranks only; None picks a free port
    # data_parallel: N ranks as above. one_policy: rl.py unchanged in this process (one training device),
    # its rewards from a multi-device pool: HostVerifierPool over verify_devices (default: every GPU but the
    # training one), or RayVerifierPool (one actor per GPU of the cluster) when ray_address is set.
    mode: str = "data_parallel"
    ray_address: str | None = None  # one_policy: "auto" (a running cluster), "ray://host:10001", or "local"

    def __post_init__(self) -> None:
        if self.mode not in ("data_parallel", "one_policy"):
            raise UsageError(f"multigpu.mode must be data_parallel or one_policy, got {self.mode!r}")
        if self.ray_address is not None and self.mode != "one_policy":
            raise UsageError("multigpu.ray_address needs multigpu.mode: one_policy (data-parallel ranks each own a "
                             "local VerifierPool)")
        if self.backend not in ("auto", "nccl", "gloo"):
            raise UsageError(f"multigpu.backend must be auto, nccl or gloo, got {self.backend!r}")
        if self.nproc is not None and self.nproc < 1:
            raise UsageError(f"multigpu.nproc must be >= 1, got {self.nproc}")
        if self.verify_devices is not None and not self.verify_devices:
            raise UsageError("multigpu.verify_devices is empty; list devices (cuda:6, cuda:7) or leave it out")


def load_multigpu_config(path: Path | None, overrides: dict | None = None) -> tuple[RunConfig, MultiGPUConfig]:
    """A run config YAML with an optional `multigpu:` section; dotted overrides ("multigpu.nproc", "rl.steps")."""
    import yaml

    raw: dict = {}
    if path is not None:
        if not Path(path).is_file():
            raise UsageError(f"config file {path} does not exist; see configs/train/*multigpu*.yaml")
        raw = yaml.safe_load(Path(path).read_text()) or {}
    section = dict(raw.pop("multigpu", None) or {})
    rest = {}
    for key, value in (overrides or {}).items():
        if key.startswith("multigpu."):
            if value is not None:
                section[key.split(".", 1)[1]] = value
        else:
            rest[key] = value
    known = set(MultiGPUConfig.__dataclass_fields__)
    unknown = sorted(set(section) - known)
    if unknown:
        raise UsageError(f"unknown key(s) {unknown} in multigpu; known: {sorted(known)}")
    if section.get("verify_devices") is not None:
        section["verify_devices"] = tuple(section["verify_devices"])
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        yaml.safe_dump(raw, fh)
    try:
        cfg = load_config(Path(fh.name), rest)
    finally:
        os.unlink(fh.name)
    return cfg, MultiGPUConfig(**section)


# ---- gradient averaging that tolerates ranks without a step ----
class SyncedOptimizer:
    """Wraps a rank's optimizer. `step()` averages the gradients over the ranks stepping in this round,
    then steps; `finish()` (every rank, after its updates) joins the rounds other ranks still run, applying
    their averaged gradients, until all ranks have finished. Each round all-reduces [stepping, finished]
    first, so ranks that take different numbers of steps (one had no signal) never deadlock.
    Everything else (zero_grad, state_dict, param_groups) is the wrapped optimizer's.
    """

    def __init__(self, optimizer, params) -> None:
        self.inner = optimizer
        self.params = [p for p in params if p.requires_grad]
        self.rounds = 0  # optimizer steps taken (own or joined)

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.inner.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        self._round(stepping=True)

    def finish(self) -> int:
        """Joins other ranks' remaining steps; returns how many rounds were joined."""
        joined = 0
        while not self._round(stepping=False):
            joined += 1
        return joined

    def _round(self, stepping: bool) -> bool:
        import torch
        import torch.distributed as dist

        world = dist.get_world_size()
        device = self.params[0].device
        flags = torch.tensor([1.0 if stepping else 0.0, 0.0 if stepping else 1.0], device=device)
        dist.all_reduce(flags)
        n_stepping, n_finished = int(flags[0].item()), int(flags[1].item())
        if n_finished == world:
            return True
        grads = [p.grad if stepping and p.grad is not None else None for p in self.params]
        for start, stop in _buckets([p.numel() for p in self.params]):
            chunk = self.params[start:stop]
            flat = torch.cat([(g.detach().float().flatten() if g is not None else
                               torch.zeros(p.numel(), device=device)) for p, g in zip(chunk, grads[start:stop])])
            dist.all_reduce(flat)
            flat /= n_stepping  # the mean over ranks that had a gradient; the others add zeros
            offset = 0
            for p in chunk:
                g = flat[offset: offset + p.numel()].view_as(p).to(p.dtype)
                p.grad = g.clone() if p.grad is None else p.grad.copy_(g)
                offset += p.numel()
        self.inner.step()
        self.rounds += 1
        if not stepping:
            self.inner.zero_grad(set_to_none=True)
        return False


def _buckets(sizes: list[int]) -> list[tuple[int, int]]:
    out, start, total = [], 0, 0
    for i, n in enumerate(sizes):
        if total and total + n > _BUCKET:
            out.append((start, i))
            start, total = i, 0
        total += n
    out.append((start, len(sizes)))
    return out


# ---- small collectives over Python values ----
def _gather(value):
    import torch.distributed as dist

    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, value)
    return out


def _mean_dicts(dicts: list[dict]) -> dict:
    """Key-wise mean of numeric values over ranks (None and non-numbers skipped)."""
    keys = {k for d in dicts for k in d}
    out = {}
    for k in sorted(keys):
        vals = [d[k] for d in dicts if isinstance(d.get(k), (int, float)) and not isinstance(d.get(k), bool)]
        out[k] = sum(vals) / len(vals) if vals else None
    return out


def _param_checksum(model) -> float:
    import torch

    with torch.no_grad():
        return float(sum((p.double() * (i + 1)).sum() for i, p in enumerate(model.parameters())))


# ---- rl.py's building blocks ----
def _rollouts(model, tokenizer, tasks: list[dict], cfg: RunConfig, level: int, verify_batch):
    """One rank's scored rollouts and their info dict, through rl.py's own generation and scoring."""
    from drtriton.train.rl import generate_batch, score_batch

    rollouts, gen_info = generate_batch(model, tokenizer, tasks, cfg, level)
    scored, info = score_batch(rollouts, tasks, verify_batch)
    return scored, {**info, **gen_info}


# ---- one rank ----
def train_rank(cfg: RunConfig, mg: MultiGPUConfig) -> dict | None:
    """The RL loop of one rank (torch.distributed already initialised); rank 0 returns the run summary."""
    import torch
    import torch.distributed as dist

    from drtriton.train import checkpoint as ckpt
    from drtriton.train.curriculum import Curriculum
    from drtriton.train.evaluate import evaluate_tasks
    from drtriton.train.metrics import MetricsLogger, plot_learning_curves
    from drtriton.train.models import load_model
    from drtriton.train.rl import policy_update, reference_policy, warmup_lr
    from drtriton.train.workspace import Workspace, make_verifier
    from drtriton.util.fileio import atomic_write_text
    from drtriton.util.provenance import Provenance

    rank, world = dist.get_rank(), dist.get_world_size()
    local = int(os.environ.get("LOCAL_RANK", rank))
    if cfg.rl.prompts_per_step < world:
        raise UsageError(f"rl.prompts_per_step ({cfg.rl.prompts_per_step}) must be >= the number of ranks "
                         f"({world}): each rank needs at least one prompt group")
    on_gpu = torch.cuda.is_available() and cfg.device != "cpu"
    device = f"cuda:{local}" if on_gpu else "cpu"
    if on_gpu:
        torch.cuda.set_device(local)
    verify_device = mg.verify_devices[rank % len(mg.verify_devices)] if mg.verify_devices else device
    verifier = make_verifier({**cfg.verify, "device": verify_device}, mg.verify_workers or cfg.rl.verify_workers)
    ws = Workspace(cfg, verifier=verifier)
    model, tokenizer = load_model(cfg.model, device=device)
    params = [q for q in model.parameters() if q.requires_grad]
    with torch.no_grad():  # identical replicas from the start (LoRA adapters are initialised at random)
        for q in params:
            dist.broadcast(q.data, src=0)
    optimizer = SyncedOptimizer(torch.optim.AdamW(params, lr=cfg.rl.lr, weight_decay=0.0), params)
    curriculum = Curriculum.start(cfg.curriculum)
    ref_model = reference_policy(model) if cfg.rl.ref_kl > 0 else None  # the starting policy, before resume
    step = 0
    last = ckpt.latest_checkpoint(cfg.run_dir)
    if last is not None:
        from drtriton.train.sft import _load_weights

        state = ckpt.load_state(last, restore_rng=False)  # each rank reseeds per step below
        model.load_state_dict(_load_weights(last, model), strict=False)
        ckpt.load_optimizer(last, optimizer.inner)
        curriculum = Curriculum.from_state(cfg.curriculum, state["curriculum"])
        ws.stream.cursor = int(state["stream_cursor"])
        ws.stream.seen = set(state.get("stream_seen", []))
        step = int(state["step"])
    log = MetricsLogger(cfg.run_dir) if rank == 0 else None
    step_s, samples, joined_total, t_loop = [], [], 0, time.time()
    try:
        while step < cfg.rl.steps:
            t0 = time.perf_counter()
            torch.manual_seed(cfg.seed * 1_000_003 + step * 1009 + rank)  # distinct samples per rank, resumable
            random.seed(cfg.seed * 1_000_003 + step * 1009 + rank)
            level = curriculum.level
            tasks = ws.stream.batch(level, cfg.rl.prompts_per_step)[rank::world]
            scored, info = _rollouts(model, tokenizer, tasks, cfg, level, ws.verify_batch)
            t1 = time.perf_counter()
            warmup_lr(optimizer.inner, cfg.rl.lr, step, cfg.rl.warmup_steps)
            stats = policy_update(model, optimizer, scored, cfg.rl.algo, cfg, tokenizer.pad_token_id, ref_model)
            joined_total += optimizer.finish()
            step += 1
            info = _mean_dicts(_gather(info))
            stats = _mean_dicts(_gather(stats))
            n_samples = sum(_gather(len(scored)))
            wall = time.perf_counter() - t0
            step_s.append(wall)
            samples.append(n_samples)
            info.update({f"{cfg.rl.algo}/{k}": v for k, v in stats.items()})
            info.update({"perf/update_s": time.perf_counter() - t1, "perf/step_s": wall,
                         "perf/samples_per_s": n_samples / wall, "curriculum/level": level,
                         "multigpu/world_size": world, "multigpu/optimizer_steps": optimizer.rounds})
            if cfg.eval_n > 0 and (step % cfg.curriculum.eval_every == 0 or step == cfg.rl.steps):
                held = ws.heldout(level)[: cfg.eval_n][rank::world]
                ev = (evaluate_tasks(model, tokenizer, held, ws.verify_batch, cfg.rl.new_tokens_for(level))
                      if held else None)
                counts = _gather((len(held), ev.correct_rate * len(held) if ev else 0.0,
                                  ev.compile_rate * len(held) if ev else 0.0))
                n_eval = sum(c[0] for c in counts)
                if n_eval:
                    pass_at_1 = sum(c[1] for c in counts) / n_eval
                    event = curriculum.observe(pass_at_1, step=step)  # same value on every rank: same curriculum
                    info.update({"eval/pass_at_1": pass_at_1,
                                 "eval/compile_rate": sum(c[2] for c in counts) / n_eval,
                                 "curriculum/promoted": event == "promote", "curriculum/demoted": event == "demote"})
            if log is not None:
                log.log(step, info)
            out_of_time = any(_gather(cfg.rl.max_seconds is not None and time.time() - t_loop > cfg.rl.max_seconds))
            if step % cfg.rl.save_every == 0 or step == cfg.rl.steps or out_of_time:
                if rank == 0:
                    ckpt.save_checkpoint(cfg.run_dir, step, model, tokenizer, optimizer.inner, {
                        "kind": "rl", "algo": cfg.rl.algo, "curriculum": curriculum.state_dict(),
                        "stream_cursor": ws.stream.cursor, "stream_seen": sorted(ws.stream.seen),
                        "world_size": world})
                dist.barrier()
            if out_of_time:
                break
    finally:
        if log is not None:
            log.close()
        ws.close()
    sums = _gather(_param_checksum(model))
    in_sync = all(s == sums[0] for s in sums)
    if rank != 0:
        dist.barrier()
        return None
    final = cfg.run_dir / "final"
    ckpt.save_final(model, tokenizer, final)
    steady = step_s[1:] or step_s  # the first step pays for warm-up (workers, JIT, allocator)
    steady_n = samples[1:] or samples
    summary = {
        "world_size": world, "backend": dist.get_backend(), "device": device, "steps": step, "algo": cfg.rl.algo,
        "step_s": step_s, "samples_per_step": samples, "optimizer_steps": optimizer.rounds,
        "samples_per_s": sum(steady_n) / sum(steady) if steady and sum(steady) > 0 else None,
        "replicas_in_sync": in_sync, "joined_rounds_rank0": joined_total, "curriculum": curriculum.state_dict(),
        "provenance": Provenance.here().to_json()}
    atomic_write_text(final / "drtriton_train.json", json.dumps(
        {"kind": "rl", "algo": cfg.rl.algo, "steps": step, "curriculum": curriculum.state_dict(),
         "multigpu": {"world_size": world, "replicas_in_sync": in_sync}, "provenance": summary["provenance"]}))
    atomic_write_text(cfg.run_dir / SUMMARY_FILE, json.dumps(summary, indent=1))
    plot_learning_curves(cfg.run_dir / "metrics.csv", cfg.run_dir / "curves.png")
    dist.barrier()
    return summary


# ---- one policy, rewards from a multi-device pool ----
def reward_pool(cfg: RunConfig, mg: MultiGPUConfig):
    """The multi-device verifier pool of mode one_policy (a HostVerifierPool or a RayVerifierPool)."""
    import torch

    from drtriton.verify import VerifyConfig
    from drtriton.verify.multi import HostVerifierPool, RayVerifierPool

    try:
        config = VerifyConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.verify.items()})
    except TypeError as exc:
        raise UsageError(f"verify: {exc}; the keys are VerifyConfig fields") from None
    workers = mg.verify_workers or cfg.rl.verify_workers
    if mg.ray_address is not None:
        import ray

        if not ray.is_initialized():
            ray.init(address=None if mg.ray_address == "local" else mg.ray_address, include_dashboard=False)
        cpu_actors = max(1, int(ray.cluster_resources().get("CPU", 1) // workers))
        return RayVerifierPool(config, num_actors=None if config.device != "cpu" else cpu_actors,
                               workers_per_actor=workers)
    devices = list(mg.verify_devices or ())
    if not devices:
        n = torch.cuda.device_count() if torch.cuda.is_available() and config.device != "cpu" else 0
        devices = [f"cuda:{i}" for i in range(1, n)] or (["cuda:0"] if n else ["cpu", "cpu"])
    return HostVerifierPool(config, devices=devices, workers_per_device=workers)


def run_rl_one_policy(cfg: RunConfig, mg: MultiGPUConfig):
    """rl.py's run_rl in this process, its verifier replaced by the multi-device pool; returns its RLResult."""
    from drtriton.train.rl import run_rl
    from drtriton.train.workspace import Workspace

    pool = reward_pool(cfg, mg)
    ws = Workspace(cfg, verifier=pool.verify_many)
    try:
        return run_rl(cfg, ws)
    finally:
        ws.close()  # closes the pool (Workspace.close calls verify_many.__self__.close)


# ---- launching ----
def _backend(mg: MultiGPUConfig, cfg: RunConfig) -> str:
    import torch

    if mg.backend != "auto":
        return mg.backend
    return "nccl" if torch.cuda.is_available() and cfg.device != "cpu" else "gloo"


def _run_initialised(cfg: RunConfig, mg: MultiGPUConfig) -> dict | None:
    import torch.distributed as dist

    dist.init_process_group(backend=_backend(mg, cfg))
    try:
        return train_rank(cfg, mg)
    finally:
        dist.destroy_process_group()


def _spawned(local_rank: int, cfg: RunConfig, mg: MultiGPUConfig, world: int, port: int) -> None:
    os.environ.update({"RANK": str(local_rank), "LOCAL_RANK": str(local_rank), "WORLD_SIZE": str(world),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    _run_initialised(cfg, mg)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_rl_multigpu(cfg: RunConfig, mg: MultiGPUConfig | None = None) -> dict:
    """Runs (or resumes) data-parallel RL; returns the summary rank 0 wrote (run_dir/multigpu_summary.json).

    Under torchrun / accelerate launch (WORLD_SIZE set) this process is one rank; otherwise it spawns
    `mg.nproc` ranks (default: one per CUDA GPU, or 2 on CPU) and waits for them.
    """
    import torch

    mg = mg or MultiGPUConfig()
    if mg.mode == "one_policy":
        t0 = time.time()
        result = run_rl_one_policy(cfg, mg)
        return {"mode": "one_policy", "world_size": 1, "steps": result.steps, "final_dir": str(result.final_dir),
                "seconds": time.time() - t0, "level": result.level}
    if "WORLD_SIZE" in os.environ:
        summary = _run_initialised(cfg, mg)
        return summary if summary is not None else {}
    world = mg.nproc or (torch.cuda.device_count() if torch.cuda.is_available() and cfg.device != "cpu" else 2)
    if cfg.rl.prompts_per_step < world:
        raise UsageError(f"rl.prompts_per_step ({cfg.rl.prompts_per_step}) must be >= the number of ranks "
                         f"({world}); raise rl.prompts_per_step or lower multigpu.nproc")
    port = mg.master_port or _free_port()
    (cfg.run_dir / SUMMARY_FILE).unlink(missing_ok=True)
    torch.multiprocessing.start_processes(_spawned, args=(cfg, mg, world, port), nprocs=world, join=True,
                                          start_method="spawn")
    return json.loads((cfg.run_dir / SUMMARY_FILE).read_text())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m drtriton.train.multigpu", description=__doc__.splitlines()[0])
    p.add_argument("--config", type=Path, required=True, help="run config YAML with a multigpu: section")
    p.add_argument("--nproc", type=int, help="overrides multigpu.nproc (ignored under torchrun/accelerate)")
    p.add_argument("--backend", choices=["auto", "nccl", "gloo"], help="overrides multigpu.backend")
    p.add_argument("--mode", choices=["data_parallel", "one_policy"], help="overrides multigpu.mode")
    p.add_argument("--run-dir", type=Path, help="overrides run_dir")
    p.add_argument("--model", type=Path, help="overrides model.path (e.g. an SFT run's final/)")
    p.add_argument("--steps", type=int, help="overrides rl.steps")
    p.add_argument("--device", help="overrides device: auto | cpu | cuda")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    args = p.parse_args(argv)
    overrides = {"multigpu.nproc": args.nproc, "multigpu.backend": args.backend, "multigpu.mode": args.mode,
                 "run_dir": args.run_dir and str(args.run_dir), "rl.steps": args.steps, "device": args.device}
    if args.model is not None:
        overrides["model.path"] = str(args.model)
    try:
        cfg, mg = load_multigpu_config(args.config, overrides)
        summary = run_rl_multigpu(cfg, mg)
    except UsageError as exc:
        print(f"drtriton multigpu: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    if not summary:  # a rank other than 0 under torchrun / accelerate: rank 0 reports
        return 0
    if args.json or summary.get("mode") == "one_policy":
        print(json.dumps(summary))
    else:
        rate = summary.get("samples_per_s")
        print(f"{summary['world_size']} ranks ({summary['backend']}), {summary['steps']} steps, "
              f"{statistics.median(summary['step_s']):.2f} s/step median, "
              f"{'not measured' if rate is None else f'{rate:.2f}'} samples/s, "
              f"replicas in sync: {summary['replicas_in_sync']}; final model in {cfg.run_dir / 'final'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
