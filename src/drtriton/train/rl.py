"""RL for kernel writing: DRPO (the paper's method) or GRPO (the baseline) over our own small loop on any
transformers model; rewards from the verifier pool, verified per prompt group in background threads while
the next group is generated; a curriculum over synthesizer levels; resumable after a kill.

    result = run_rl(load_config(Path("configs/train/tiny_rl_drpo.yaml")))

One step: draw `prompts_per_step` fresh tasks at the curriculum's level, sample `rollouts` answers each,
parse (format errors never reach the verifier), verify, score (decoupled r_correct / r_speed), then
`updates_per_batch` optimizer steps on the DRPO or GRPO loss against the sampling policy as pi_old.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from drtriton.train import checkpoint as ckpt
from drtriton.train.config import RunConfig
from drtriton.train.curriculum import Curriculum
from drtriton.train.evaluate import evaluate_tasks
from drtriton.train.losses import drpo_loss, grpo_advantages, grpo_loss
from drtriton.train.metrics import MetricsLogger, plot_learning_curves
from drtriton.train.models import load_model
from drtriton.train.policy import Rollout, completion_logps, sample
from drtriton.train.prompt import build_prompt, parse_answer
from drtriton.train.rewards import (
    FORMAT_ERROR,
    Outcome,
    grpo_reward,
    is_flagged,
    r_correct,
    r_speed,
    status_of,
)
from drtriton.train.workspace import Workspace
from drtriton.util.fileio import atomic_write_text
from drtriton.util.provenance import Provenance


@dataclass
class ScoredRollout:
    rollout: Rollout
    verdict: object  # a Verdict, or an Outcome for format errors

    @property
    def correct(self) -> bool:
        return r_correct(self.verdict) == 1.0


@dataclass
class RLResult:
    final_dir: Path
    steps: int
    algo: str
    level: int
    curriculum: dict
    seconds: float
    last_stats: dict = field(default_factory=dict)


def verify_rollouts(rollouts: list[Rollout], problem: str, verify_batch: Callable) -> list[ScoredRollout]:
    """Parses each answer; format errors become Outcomes, the rest go to the verifier in one batch."""
    parsed = [parse_answer(r.text) for r in rollouts]
    todo = [(problem, p.code) for p in parsed if p.ok]
    verdicts = iter(verify_batch(todo) if todo else [])
    return [ScoredRollout(r, next(verdicts) if p.ok else Outcome(FORMAT_ERROR, p.error))
            for r, p in zip(rollouts, parsed)]


def policy_update(model, optimizer, scored: list[ScoredRollout], algo: str, cfg: RunConfig, pad_id: int) -> dict:
    """`updates_per_batch` optimizer steps on one batch of scored rollouts; returns the last step's stats."""
    import torch

    p = cfg.rl
    prompt_ids = [s.rollout.prompt_ids for s in scored]
    comp_ids = [s.rollout.completion_ids or [pad_id] for s in scored]
    groups = torch.tensor([s.rollout.prompt_index for s in scored])
    correct = torch.tensor([s.correct for s in scored])
    speed = torch.tensor([r_speed(s.verdict) if r_speed(s.verdict) is not None else math.nan for s in scored])
    rewards = torch.tensor([grpo_reward(s.verdict) for s in scored])
    with torch.no_grad():
        old_logps, mask = completion_logps(model, prompt_ids, comp_ids, pad_id)
    stats: dict = {}
    params = [q for q in model.parameters() if q.requires_grad]
    model.train()
    for _ in range(p.updates_per_batch):
        new_logps, mask = completion_logps(model, prompt_ids, comp_ids, pad_id)
        if algo == "drpo":
            loss, stats = drpo_loss(new_logps, old_logps, mask, groups.to(new_logps.device),
                                    correct.to(new_logps.device), speed.to(new_logps.device), p.drpo)
            has_signal = stats["groups_with_signal"] > 0 or stats["kl_penalty"] > 0
        else:
            adv = grpo_advantages(rewards, groups).to(new_logps.device)
            loss, stats = grpo_loss(new_logps, old_logps, mask, adv, p.clip_eps)
            has_signal = bool((adv != 0).any())
        stats["loss"] = float(loss.detach())
        if not has_signal:
            stats["skipped_update"] = 1.0  # no group carried signal: no gradient to follow
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        stats["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(params, 1.0))
        optimizer.step()
    return stats


def rollout_step(model, tokenizer, tasks: list[dict], cfg: RunConfig, verify_batch: Callable,
                 pool: ThreadPoolExecutor) -> tuple[list[ScoredRollout], dict]:
    """Generates `gen_prompts_per_call` prompts per call; each finished group goes to the verifier at once,
    so verification of earlier groups overlaps generation of later ones."""
    p = cfg.rl
    futures, gen_tokens, gen_s = [], 0, 0.0
    per_call = max(1, p.gen_prompts_per_call)
    for start in range(0, len(tasks), per_call):
        chunk = tasks[start:start + per_call]
        t0 = time.perf_counter()
        rollouts = sample(model, tokenizer, [build_prompt(t["program"]) for t in chunk], n=p.rollouts,
                          max_new_tokens=p.max_new_tokens, temperature=p.temperature, top_p=p.top_p)
        gen_s += time.perf_counter() - t0
        gen_tokens += sum(len(r.completion_ids) for r in rollouts)
        for j, task in enumerate(chunk):
            group = [r for r in rollouts if r.prompt_index == j]
            for r in group:
                r.prompt_index = start + j
            futures.append(pool.submit(verify_rollouts, group, task["program"], verify_batch))
    t0 = time.perf_counter()
    scored = [s for f in futures for s in f.result()]
    wait_s = time.perf_counter() - t0
    statuses = [status_of(s.verdict) for s in scored]
    n = len(scored)
    speeds = [r_speed(s.verdict) for s in scored if r_speed(s.verdict) is not None]
    groups = {}
    for s in scored:
        groups.setdefault(s.rollout.prompt_index, []).append(s.correct)
    info = {
        "rollout/correct_rate": sum(s.correct for s in scored) / n,
        "rollout/format_error_rate": statuses.count(FORMAT_ERROR) / n,
        "rollout/flagged_rate": sum(is_flagged(s.verdict) for s in scored) / n,
        "rollout/compile_error_rate": statuses.count("compile_error") / n,
        "rollout/mixed_groups": sum(any(g) and not all(g) for g in groups.values()),
        "rollout/grpo_reward": sum(grpo_reward(s.verdict) for s in scored) / n,
        "rollout/mean_log_speedup": (sum(speeds) / len(speeds)) if speeds else None,
        "rollout/completion_tokens": gen_tokens / n,
        "perf/gen_tokens_per_s": gen_tokens / gen_s if gen_s > 0 else None,
        "perf/verify_wait_s": wait_s,
    }
    return scored, info


def run_rl(cfg: RunConfig, ws: Workspace | None = None,
           progress: Callable[[int, int, dict], None] | None = None) -> RLResult:
    """Runs (or resumes) RL until cfg.rl.steps; writes checkpoints, metrics, curves and run_dir/final.

    rl.backend=trl hands over to TRL's GRPOTrainer (rl_trl.py).
    """
    import random

    if cfg.rl.backend == "trl":
        from drtriton.train.rl_trl import run_rl_trl

        return run_rl_trl(cfg, ws)

    import torch

    t_start = time.time()
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    device = cfg.resolved_device()
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    own_ws = ws is None
    ws = ws or Workspace(cfg)
    model, tokenizer = load_model(cfg.model, device=device)
    params = [q for q in model.parameters() if q.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.rl.lr, weight_decay=0.0)
    curriculum = Curriculum(cfg.curriculum)
    step = 0
    last = ckpt.latest_checkpoint(cfg.run_dir)
    if last is not None:
        state = ckpt.load_state(last)
        from drtriton.train.sft import _load_weights

        model.load_state_dict(_load_weights(last, model), strict=False)
        ckpt.load_optimizer(last, optimizer)
        curriculum = Curriculum.from_state(cfg.curriculum, state["curriculum"])
        ws.stream.cursor = int(state["stream_cursor"])
        ws.stream.seen = set(state.get("stream_seen", []))
        step = int(state["step"])
    log = MetricsLogger(cfg.run_dir)
    stats: dict = {}
    pool = ThreadPoolExecutor(max_workers=cfg.rl.verify_workers)
    t_loop = time.time()
    try:
        while step < cfg.rl.steps:
            t0 = time.perf_counter()
            level = curriculum.level
            tasks = ws.stream.batch(level, cfg.rl.prompts_per_step)
            scored, info = rollout_step(model, tokenizer, tasks, cfg, ws.verify_batch, pool)
            t1 = time.perf_counter()
            stats = policy_update(model, optimizer, scored, cfg.rl.algo, cfg, tokenizer.pad_token_id)
            step += 1
            info.update({f"{cfg.rl.algo}/{k}": v for k, v in stats.items()})
            info.update({"perf/update_s": time.perf_counter() - t1, "perf/step_s": time.perf_counter() - t0,
                         "curriculum/level": level})
            if step % cfg.curriculum.eval_every == 0 or step == cfg.rl.steps:
                held = ws.heldout(level)[: cfg.eval_n]
                ev = evaluate_tasks(model, tokenizer, held, ws.verify_batch, cfg.rl.max_new_tokens)
                event = curriculum.observe(ev.correct_rate, step=step)
                info.update({"eval/pass_at_1": ev.correct_rate, "eval/compile_rate": ev.compile_rate,
                             "curriculum/promoted": event == "promote", "curriculum/demoted": event == "demote"})
            log.log(step, info)
            if progress:
                progress(step, cfg.rl.steps, info)
            out_of_time = cfg.rl.max_seconds is not None and time.time() - t_loop > cfg.rl.max_seconds
            if step % cfg.rl.save_every == 0 or step == cfg.rl.steps or out_of_time:
                ckpt.save_checkpoint(cfg.run_dir, step, model, tokenizer, optimizer, {
                    "kind": "rl", "algo": cfg.rl.algo, "curriculum": curriculum.state_dict(),
                    "stream_cursor": ws.stream.cursor, "stream_seen": sorted(ws.stream.seen)})
            if out_of_time:
                break
    finally:
        pool.shutdown(wait=True)
        log.close()
        if own_ws:
            ws.close()
    final = cfg.run_dir / "final"
    model = ckpt.save_final(model, tokenizer, final)
    atomic_write_text(final / "drtriton_train.json", json.dumps(
        {"kind": "rl", "algo": cfg.rl.algo, "steps": step, "curriculum": curriculum.state_dict(),
         "provenance": Provenance.here().to_json()}))
    plot_learning_curves(cfg.run_dir / "metrics.csv", cfg.run_dir / "curves.png")
    return RLResult(final, step, cfg.rl.algo, curriculum.level, curriculum.state_dict(),
                    time.time() - t_start, stats)
