"""RL for kernel writing: DRPO (the paper's method) or GRPO (the baseline) over our own small loop on any
transformers model; rewards from the verifier pool (one batch per step, in a background thread); a
curriculum over synthesizer levels; resumable after a kill.

    result = run_rl(load_config(Path("configs/train/tiny_rl_drpo.yaml")))

One step: draw `prompts_per_step` fresh tasks at the curriculum's level, sample `rollouts` answers each,
parse (format errors never reach the verifier), verify, score (decoupled r_correct / r_speed), then
`updates_per_batch` optimizer steps on the DRPO or GRPO loss against pi_old, the policy before the update.
With `rl.overlap` the next batch is generated while this one is verified, so each update trains on
rollouts sampled one update earlier (pi_old is then the current policy, not the sampler). With
`rl.signal_only` the update scores only the groups that carry signal; a stream with `observe`
(data.RevisitStream) is told how each group went, to pick the next prompts.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from drtriton.train import checkpoint as ckpt
from drtriton.train.config import RunConfig
from drtriton.train.curriculum import Curriculum
from drtriton.train.evaluate import evaluate_tasks
from drtriton.train.losses import drpo_loss, grpo_advantages, grpo_loss, kl_to_reference
from drtriton.train.metrics import MetricsLogger, plot_learning_curves
from drtriton.train.models import load_model
from drtriton.train.policy import Rollout, RolloutSampler, completion_logps, sample
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


def policy_update(model, optimizer, scored: list[ScoredRollout], algo: str, cfg: RunConfig, pad_id: int,
                  ref_model=None) -> dict:
    """`updates_per_batch` optimizer steps on one batch of scored rollouts; returns the last step's stats.

    Only completion tokens enter the loss (completion_logps masks prompts and padding). pi_old is the
    policy at the start of this call. With `ref_model` and rl.ref_kl > 0 the loss adds
    rl.ref_kl x KL(pi || pi_ref) (for LoRA policies, pass the policy itself: its adapters are switched off
    to score the reference). A batch whose groups all have equal rewards carries no signal: no step.
    """
    import torch

    p = cfg.rl
    if p.signal_only:
        scored = signal_rollouts(scored, algo)
        if not scored:  # nothing to learn from in this batch: no forward pass at all
            return {"skipped_update": 1.0, "update_sequences": 0}
    prompt_ids = [s.rollout.prompt_ids for s in scored]
    comp_ids = [s.rollout.completion_ids or [pad_id] for s in scored]
    groups = torch.tensor([s.rollout.prompt_index for s in scored])
    correct = torch.tensor([s.correct for s in scored])
    speed = torch.tensor([r_speed(s.verdict) if r_speed(s.verdict) is not None else math.nan for s in scored])
    rewards = torch.tensor([grpo_reward(s.verdict) for s in scored])
    chunk = p.micro_batch if 0 < p.micro_batch < len(scored) else len(scored)
    with torch.no_grad():
        old_logps, mask = _chunked_logps(model, prompt_ids, comp_ids, pad_id, chunk)
        ref_logps = None
        if ref_model is not None and p.ref_kl > 0:
            ref_logps = _reference_logps(model, ref_model, prompt_ids, comp_ids, pad_id, chunk)
    stats: dict = {}
    params = [q for q in model.parameters() if q.requires_grad]
    model.train()
    for _ in range(p.updates_per_batch):
        if chunk < len(scored):
            # Two passes: log-probs of every chunk without a graph, the loss (and its gradient w.r.t. them)
            # on the whole batch, then each chunk again with a graph, back-propagating its slice of that
            # gradient. Exact when the forward is deterministic (the built-in models have no dropout), at
            # the activation memory of one chunk (one extra forward per update).
            with torch.no_grad():
                new_logps, _ = _chunked_logps(model, prompt_ids, comp_ids, pad_id, chunk)
            new_logps.requires_grad_(True)
        else:
            new_logps, mask = completion_logps(model, prompt_ids, comp_ids, pad_id)
        if algo == "drpo":
            loss, stats = drpo_loss(new_logps, old_logps, mask, groups.to(new_logps.device),
                                    correct.to(new_logps.device), speed.to(new_logps.device), p.drpo)
            has_signal = stats["groups_with_signal"] > 0 or stats["kl_penalty"] > 0
        else:
            adv = grpo_advantages(rewards, groups).to(new_logps.device)
            loss, stats = grpo_loss(new_logps, old_logps, mask, adv, p.clip_eps)
            has_signal = bool((adv != 0).any())
        if ref_logps is not None:
            kl_ref = kl_to_reference(new_logps, ref_logps, mask)
            loss = loss + p.ref_kl * kl_ref
            stats["kl_ref"] = float(kl_ref.detach())
        stats["loss"] = float(loss.detach())
        if not has_signal:
            stats["skipped_update"] = 1.0  # no group carried signal: no gradient to follow
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if chunk < len(scored):
            grad = new_logps.grad
            for lo in range(0, len(scored), chunk):
                part, _ = _chunk_logps(model, prompt_ids, comp_ids, pad_id, lo, chunk, mask.shape[1])
                part.backward(grad[lo:lo + chunk])
        stats["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(params, 1.0))
        optimizer.step()
    stats["update_sequences"] = len(scored)
    return stats


def signal_rollouts(scored: list[ScoredRollout], algo: str) -> list[ScoredRollout]:
    """The rollouts of groups that carry signal for `algo` (in batch order): DRPO, groups with correct and
    wrong rollouts; GRPO, groups whose rewards are not all equal (its advantages are 0 otherwise)."""
    key = (lambda s: s.correct) if algo == "drpo" else (lambda s: grpo_reward(s.verdict))
    values: dict[int, set] = {}
    for s in scored:
        values.setdefault(s.rollout.prompt_index, set()).add(key(s))
    return [s for s in scored if len(values[s.rollout.prompt_index]) > 1]


def _chunk_logps(model, prompt_ids, comp_ids, pad_id, lo: int, chunk: int, width: int):
    """completion_logps of sequences lo..lo+chunk, log-probs and mask padded to the batch's `width` tokens."""
    import torch

    part, mask = completion_logps(model, prompt_ids[lo:lo + chunk], comp_ids[lo:lo + chunk], pad_id)
    pad = (0, width - part.shape[1])
    return torch.nn.functional.pad(part, pad), torch.nn.functional.pad(mask, pad)


def _chunked_logps(model, prompt_ids, comp_ids, pad_id, chunk: int):
    """completion_logps of the whole batch, `chunk` sequences at a time: (B, T) log-probs and mask."""
    import torch

    if chunk >= len(prompt_ids):
        return completion_logps(model, prompt_ids, comp_ids, pad_id)
    width = max(1, max(len(c) for c in comp_ids))
    parts = [_chunk_logps(model, prompt_ids, comp_ids, pad_id, lo, chunk, width)
             for lo in range(0, len(prompt_ids), chunk)]
    return torch.cat([p for p, _ in parts]), torch.cat([m for _, m in parts])


def _reference_logps(model, ref_model, prompt_ids, comp_ids, pad_id, chunk: int | None = None):
    """Per-token log-probs under the reference policy (no gradient)."""
    chunk = chunk or len(prompt_ids)
    if ref_model is model and hasattr(model, "disable_adapter"):  # LoRA: the base model is the reference
        with model.disable_adapter():
            return _chunked_logps(model, prompt_ids, comp_ids, pad_id, chunk)[0]
    return _chunked_logps(ref_model, prompt_ids, comp_ids, pad_id, chunk)[0]


def reference_policy(model):
    """A frozen copy of the policy as it starts RL (for LoRA: the policy itself, adapters off when scoring)."""
    import copy

    if hasattr(model, "disable_adapter"):
        return model
    ref = copy.deepcopy(model).eval()
    for q in ref.parameters():
        q.requires_grad_(False)
    return ref


def warmup_lr(optimizer, base_lr: float, step: int, warmup_steps: int) -> float:
    """Sets the lr of optimizer step `step` (0-based): linear warm-up to base_lr over warmup_steps."""
    lr = base_lr * min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else base_lr
    for g in optimizer.param_groups:
        g["lr"] = lr
    return lr


@dataclass
class Batch:
    """One step's rollouts, generated by the policy of that moment; `scored` resolves to (scored, info)."""

    level: int
    tasks: list[dict]
    scored: Future
    gen_info: dict


def generate_batch(model, tokenizer, tasks: list[dict], cfg: RunConfig, level: int) -> tuple[list[Rollout], dict]:
    """`rollouts` samples per task, `gen_prompts_per_call` prompts per generate() call."""
    p = cfg.rl
    rollouts, gen_tokens, gen_s = [], 0, 0.0
    per_call = max(1, p.gen_prompts_per_call)
    for start in range(0, len(tasks), per_call):
        chunk = tasks[start:start + per_call]
        t0 = time.perf_counter()
        out = sample(model, tokenizer, [build_prompt(t["program"]) for t in chunk], n=p.rollouts,
                     max_new_tokens=p.new_tokens_for(level), temperature=p.temperature, top_p=p.top_p)
        gen_s += time.perf_counter() - t0
        for r in out:
            r.prompt_index += start
        gen_tokens += sum(len(r.completion_ids) for r in out)
        rollouts.extend(out)
    return rollouts, {"rollout/completion_tokens": gen_tokens / max(1, len(rollouts)),
                      "perf/gen_tokens_per_s": gen_tokens / gen_s if gen_s > 0 else None, "perf/gen_s": gen_s}


def score_batch(rollouts: list[Rollout], tasks: list[dict], verify_batch: Callable) -> tuple[list[ScoredRollout], dict]:
    """Verifies every rollout (one verifier batch for the whole step) and summarizes the rewards."""
    t0 = time.perf_counter()
    by_prompt: dict[int, list[Rollout]] = {}
    for r in rollouts:
        by_prompt.setdefault(r.prompt_index, []).append(r)
    parsed = [parse_answer(r.text) for r in rollouts]
    todo = [(tasks[r.prompt_index]["program"], q.code) for r, q in zip(rollouts, parsed) if q.ok]
    verdicts = iter(verify_batch(todo) if todo else [])
    scored = [ScoredRollout(r, next(verdicts) if q.ok else Outcome(FORMAT_ERROR, q.error))
              for r, q in zip(rollouts, parsed)]
    statuses = [status_of(x.verdict) for x in scored]
    n = max(1, len(scored))
    speeds = [r_speed(x.verdict) for x in scored if r_speed(x.verdict) is not None]
    groups: dict[int, list[bool]] = {}
    for x in scored:
        groups.setdefault(x.rollout.prompt_index, []).append(x.correct)
    info = {
        "rollout/correct_rate": sum(x.correct for x in scored) / n,
        "rollout/format_error_rate": statuses.count(FORMAT_ERROR) / n,
        "rollout/flagged_rate": sum(is_flagged(x.verdict) for x in scored) / n,
        "rollout/compile_error_rate": statuses.count("compile_error") / n,
        "rollout/mixed_groups": sum(any(g) and not all(g) for g in groups.values()),
        "rollout/grpo_reward": sum(grpo_reward(x.verdict) for x in scored) / n,
        "rollout/mean_log_speedup": (sum(speeds) / len(speeds)) if speeds else None,
        "rollout/distinct_answers": len(set(todo)) / n,
        "perf/verify_s": time.perf_counter() - t0,
    }
    return scored, info


def observe_groups(stream, tasks: list[dict], scored: list[ScoredRollout]) -> None:
    """Tells a stream that picks prompts by their groups (`observe`, data.RevisitStream) how each went."""
    observe = getattr(stream, "observe", None)
    if observe is None:
        return
    groups: dict[int, list[bool]] = {}
    for x in scored:
        groups.setdefault(x.rollout.prompt_index, []).append(x.correct)
    for i, g in sorted(groups.items()):
        observe(tasks[i], sum(g), len(g))


def verify_rollouts(rollouts: list[Rollout], problem: str, verify_batch: Callable) -> list[ScoredRollout]:
    """One prompt's group: parses each answer; format errors become Outcomes, the rest go to the verifier."""
    return score_batch(rollouts, {r.prompt_index: {"program": problem} for r in rollouts}, verify_batch)[0]


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
    curriculum = Curriculum.start(cfg.curriculum)
    ref_model = None
    if cfg.rl.ref_kl > 0 and cfg.rl.ref_path is not None:  # a continued run: the same reference as the first
        spec = replace(cfg.model, path=Path(cfg.rl.ref_path), builtin=None, lora=None, gradient_checkpointing=False)
        ref_model = reference_policy(load_model(spec, device=device)[0])
    elif cfg.rl.ref_kl > 0:
        ref_model = reference_policy(model)  # the starting policy, before resume
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
    sampler = RolloutSampler(model, cfg.rl.gen_dtype)  # after resume: it copies the policy's weights
    log = MetricsLogger(cfg.run_dir)
    stats: dict = {}
    pool = ThreadPoolExecutor(max_workers=2)  # scoring runs beside generation (rl.overlap) and evaluation
    t_loop = time.time()
    last_step_s = 0.0  # a step that would end past rl.max_seconds is not started

    def out_of_time() -> bool:
        return cfg.rl.max_seconds is not None and time.time() - t_loop + last_step_s > cfg.rl.max_seconds

    def new_batch() -> Batch:
        level = curriculum.level
        tasks = ws.stream.batch(level, cfg.rl.prompts_per_step)
        rollouts, gen_info = generate_batch(sampler.sync(), tokenizer, tasks, cfg, level)
        if hasattr(ws.stream, "last_revisits"):  # data.RevisitStream: prompts back for their mixed groups
            gen_info["prompts/revisited"] = ws.stream.last_revisits
        return Batch(level, tasks, pool.submit(score_batch, rollouts, tasks, ws.verify_batch), gen_info)

    pending: Batch | None = None  # rl.overlap: generated by the previous policy, being verified
    stopped_for_time = False
    try:
        while True:
            t0 = time.perf_counter()
            fresh = None
            if step + (pending is not None) < cfg.rl.steps and not stopped_for_time:
                if out_of_time():
                    stopped_for_time = True
                else:
                    fresh = new_batch()
            if cfg.rl.overlap and fresh is not None and pending is None:
                pending = fresh  # the first batch: nothing to train on yet
                continue
            current, pending = (pending, fresh) if cfg.rl.overlap else (fresh, None)
            if current is None:
                break
            t_wait = time.perf_counter()
            scored, info = current.scored.result()
            info.update(current.gen_info)
            observe_groups(ws.stream, current.tasks, scored)
            info["perf/verify_wait_s"] = time.perf_counter() - t_wait
            t1 = time.perf_counter()
            info["rl/lr"] = warmup_lr(optimizer, cfg.rl.lr, step, cfg.rl.warmup_steps)
            stats = policy_update(model, optimizer, scored, cfg.rl.algo, cfg, tokenizer.pad_token_id, ref_model)
            step += 1
            info.update({f"{cfg.rl.algo}/{k}": v for k, v in stats.items()})
            info.update({"perf/update_s": time.perf_counter() - t1, "curriculum/level": current.level})
            if cfg.eval_n > 0 and (step % cfg.curriculum.eval_every == 0 or step == cfg.rl.steps):
                level = curriculum.level
                held = ws.heldout(level)[: cfg.eval_n]
                ev = evaluate_tasks(model, tokenizer, held, ws.verify_batch, cfg.rl.new_tokens_for(level),
                                    batch_size=max(1, len(held)))
                event = curriculum.observe(ev.correct_rate, step=step)
                info.update({"eval/pass_at_1": ev.correct_rate, "eval/compile_rate": ev.compile_rate,
                             "eval/level": level, "curriculum/promoted": event == "promote",
                             "curriculum/demoted": event == "demote"})
            last_step_s = time.perf_counter() - t0
            info["perf/step_s"] = last_step_s
            log.log(step, info)
            if progress:
                progress(step, cfg.rl.steps, info)
            if step % cfg.rl.save_every == 0 or step == cfg.rl.steps or (out_of_time() and pending is None):
                ckpt.save_checkpoint(cfg.run_dir, step, model, tokenizer, optimizer, {
                    "kind": "rl", "algo": cfg.rl.algo, "curriculum": curriculum.state_dict(),
                    "stream_cursor": ws.stream.cursor, "stream_seen": sorted(ws.stream.seen)})
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
