"""GRPO through TRL's GRPOTrainer (where trl is installed), with the same reward code as our own loop.

    result = run_rl_trl(load_config(Path("configs/train/tiny_rl_grpo.yaml"), {"rl.backend": "trl"}))

Scope: GRPO only (TRL's trainer has no DRPO objective: DRPO runs in rl.py), and the curriculum level is
fixed at the first level for the whole run (TRL's dataset is drawn up front; rl.py synthesizes online).
Rewards: `grpo_reward` over verdicts from the verifier pool, one batched call per generation round;
format errors never reach the verifier. Resumes from TRL's last checkpoint in run_dir/trl.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from drtriton.train.config import RunConfig
from drtriton.train.metrics import MetricsLogger, plot_learning_curves
from drtriton.train.models import load_model
from drtriton.train.prompt import build_prompt, parse_answer
from drtriton.train.rewards import FORMAT_ERROR, Outcome, grpo_reward, r_correct, status_of
from drtriton.train.rl import RLResult
from drtriton.train.workspace import Workspace
from drtriton.util.fileio import atomic_write_text
from drtriton.util.provenance import Provenance


def make_reward_func(verify_batch, log: MetricsLogger | None = None):
    """A TRL reward function: (prompts, completions, program=[...]) -> GRPO rewards, verified in one batch."""
    calls = {"n": 0}

    def drtriton_grpo_reward(prompts, completions, program, **kwargs) -> list[float]:
        texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]
        parsed = [parse_answer(t) for t in texts]
        todo = [(prob, p.code) for prob, p in zip(program, parsed) if p.ok]
        verdicts = iter(verify_batch(todo) if todo else [])
        scored = [next(verdicts) if p.ok else Outcome(FORMAT_ERROR, p.error) for p in parsed]
        calls["n"] += 1
        if log is not None:
            n = len(scored)
            log.log(calls["n"], {"rollout/correct_rate": sum(r_correct(v) for v in scored) / n,
                                 "rollout/format_error_rate": sum(status_of(v) == FORMAT_ERROR for v in scored) / n})
        return [grpo_reward(v) for v in scored]

    return drtriton_grpo_reward


def run_rl_trl(cfg: RunConfig, ws: Workspace | None = None) -> RLResult:
    from datasets import Dataset
    from transformers.trainer_utils import get_last_checkpoint
    from trl import GRPOConfig, GRPOTrainer

    t0 = time.time()
    p = cfg.rl
    own_ws = ws is None
    ws = ws or Workspace(cfg)
    level = cfg.curriculum.levels[0]
    model, tokenizer = load_model(cfg.model, device=cfg.resolved_device())
    tasks = ws.stream.batch(level, p.steps * p.prompts_per_step)
    data = Dataset.from_list([{"prompt": build_prompt(t["program"]), "program": t["program"]} for t in tasks])
    out = cfg.run_dir / "trl"
    args = GRPOConfig(
        output_dir=str(out), max_steps=p.steps, learning_rate=p.lr, num_generations=p.rollouts,
        per_device_train_batch_size=p.rollouts * p.prompts_per_step, max_completion_length=p.max_new_tokens,
        temperature=p.temperature, top_p=p.top_p, beta=0.0, loss_type="grpo", scale_rewards="group",
        num_iterations=p.updates_per_batch, epsilon=p.clip_eps, save_steps=p.save_every, save_total_limit=2,
        logging_steps=p.log_every, report_to=[], seed=cfg.seed, disable_tqdm=True,
        use_cpu=cfg.resolved_device() == "cpu", bf16=cfg.model.dtype == "bfloat16", dataloader_num_workers=0)
    log = MetricsLogger(cfg.run_dir)
    try:
        trainer = GRPOTrainer(model=model, reward_funcs=[make_reward_func(ws.verify_batch, log)], args=args,
                              train_dataset=data, processing_class=tokenizer)
        resume = get_last_checkpoint(str(out)) if out.is_dir() else None
        trainer.train(resume_from_checkpoint=resume)
    finally:
        log.close()
        if own_ws:
            ws.close()
    final = cfg.run_dir / "final"
    from drtriton.train.checkpoint import save_final

    save_final(trainer.model, tokenizer, final)
    history = [h for h in trainer.state.log_history if "loss" in h]
    atomic_write_text(final / "drtriton_train.json", json.dumps(
        {"kind": "rl", "algo": "grpo", "backend": "trl", "steps": trainer.state.global_step, "level": level,
         "provenance": Provenance.here().to_json()}))
    plot_learning_curves(cfg.run_dir / "metrics.csv", cfg.run_dir / "curves.png")
    return RLResult(Path(final), trainer.state.global_step, "grpo", level, {"levels": [level], "fixed": True},
                    time.time() - t0, history[-1] if history else {})
