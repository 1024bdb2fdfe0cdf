"""The verl (Ray) adapter: the same parser, verifier and reward code as our trainers, behind verl's custom
reward-function interface, plus the parquet rows verl reads. Recipe: docs/TRAINING.md ("Past one node").

    custom_reward_function.path=src/drtriton/train/verl_reward.py
    custom_reward_function.name=compute_score            # or compute_score_batch with reward_manager=batch

verl calls compute_score(data_source, solution_str, ground_truth, extra_info) per response; `ground_truth`
is the task's KernelBench-format program. It returns verl's dict form: "score" (the GRPO reward,
1 + log speedup if correct else 0) and the decoupled signals r_correct / r_speed and the status, which
verl logs. Verifier settings come from the DRTRITON_VERIFY env var (JSON of VerifyConfig fields).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

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

DATA_SOURCE = "drtriton"
_VERIFY = None  # one verifier pool per reward worker process, made on first use


def _verify_batch(pairs: list[tuple[str, str]]) -> list:
    global _VERIFY
    if _VERIFY is None:
        from drtriton.train.workspace import make_verifier

        _VERIFY = make_verifier(json.loads(os.environ.get("DRTRITON_VERIFY", "{}")),
                                workers=int(os.environ.get("DRTRITON_VERIFY_WORKERS", "2")))
    return _VERIFY(pairs)


def score_many(solutions: list[str], programs: list[str], verify_batch=None) -> list[dict]:
    """verl's dict scores for many responses: one batched verifier call for all that parse."""
    verify_batch = verify_batch or _verify_batch
    parsed = [parse_answer(s) for s in solutions]
    todo = [(prog, p.code) for prog, p in zip(programs, parsed) if p.ok]
    verdicts = iter(verify_batch(todo) if todo else [])
    out = []
    for p in parsed:
        v = next(verdicts) if p.ok else Outcome(FORMAT_ERROR, p.error)
        speed = r_speed(v)
        out.append({"score": grpo_reward(v), "r_correct": r_correct(v),
                    "r_speed": speed if speed is not None else 0.0, "speed_measured": float(speed is not None),
                    "flagged": float(is_flagged(v)), "status": status_of(v)})
    return out


def compute_score(data_source: str, solution_str: str, ground_truth: str, extra_info: dict | None = None) -> dict:
    """verl's per-response reward function (NaiveRewardManager)."""
    return score_many([solution_str], [ground_truth])[0]


def compute_score_batch(data_sources: list[str], solution_strs: list[str], ground_truths: list[str],
                        extra_infos: list[dict] | None = None) -> list[dict]:
    """verl's batched reward function (reward_model.reward_manager=batch): one verifier call per batch."""
    return score_many(list(solution_strs), list(ground_truths))


def verl_rows(tasks: Iterable[dict], split: str) -> list[dict]:
    """verl's RL dataset rows (chat-format prompt, program as ground truth) for tasks with hash/program/level."""
    return [{"data_source": DATA_SOURCE, "prompt": [{"role": "user", "content": build_prompt(t["program"])}],
             "ability": "triton", "reward_model": {"style": "rule", "ground_truth": t["program"]},
             "extra_info": {"split": split, "index": i, "hash": t["hash"], "level": int(t["level"])}}
            for i, t in enumerate(tasks)]


def write_verl_parquet(tasks: Iterable[dict], split: str, path: Path) -> Path:
    """Writes verl_rows as parquet (atomically)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from drtriton.util.fileio import atomic_open

    table = pa.Table.from_pylist(verl_rows(tasks, split))
    with atomic_open(Path(path), "wb") as fh:
        pq.write_table(table, fh)
    return Path(path)
