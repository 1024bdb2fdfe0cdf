"""Evaluate a policy on a held-out set: one greedy answer per task, verified; compile rate, correct rate
(pass@1), fast_1 vs eager (None where speed was not measured, e.g. on CPU).

    result = evaluate_tasks(model, tokenizer, ws.heldout(2), ws.verify_batch, max_new_tokens=1024)
    result = eval_model_dir(Path("runs/rl/final"), level=2, cfg=cfg)   # what `drtriton eval-model` runs
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from drtriton.train.prompt import build_prompt, parse_answer
from drtriton.train.rewards import FORMAT_ERROR, NOT_COMPILED, Outcome, r_correct, status_of
from drtriton.util.provenance import Provenance


@dataclass
class EvalResult:
    n: int
    format_error_rate: float
    compile_rate: float  # answers that parsed and compiled (status not format_error / compile_error)
    correct_rate: float  # pass@1 (greedy)
    fast_1: float | None  # share of tasks correct AND faster than eager; None when no speed was measured
    geomean_speedup: float | None  # over correct answers with a measured speedup
    statuses: dict[str, int] = field(default_factory=dict)
    records: list[dict] = field(default_factory=list)  # per task: hash, status, reason, speedup
    seconds: float | None = None
    level: int | None = None
    model: str | None = None
    provenance: dict = field(default_factory=lambda: Provenance.here().to_json())

    def to_json(self) -> dict:
        return asdict(self)


def summarize(tasks: list[dict], verdicts: list) -> EvalResult:
    """Aggregates one verdict per task into the evaluation metrics."""
    n = len(tasks)
    statuses = [status_of(v) for v in verdicts]
    speedups = [getattr(v, "speedup_vs_eager", None) for v in verdicts]
    correct = [r_correct(v) == 1.0 for v in verdicts]
    measured = [s for s, ok in zip(speedups, correct) if ok and s is not None and s > 0]
    fast_1 = None
    if n and _speed_measurable(verdicts):  # a correct answer whose timing failed counts as not fast
        fast_1 = sum(ok and s is not None and s > 1.0 for s, ok in zip(speedups, correct)) / n
    counts: dict[str, int] = {}
    for s in statuses:
        counts[s] = counts.get(s, 0) + 1
    records = [{"hash": t["hash"], "status": s, "reason": getattr(v, "reason", ""), "speedup_vs_eager": sp}
               for t, v, s, sp in zip(tasks, verdicts, statuses, speedups)]
    return EvalResult(
        n=n,
        format_error_rate=statuses.count(FORMAT_ERROR) / n if n else math.nan,
        compile_rate=sum(s not in NOT_COMPILED for s in statuses) / n if n else math.nan,
        correct_rate=sum(correct) / n if n else math.nan,
        fast_1=fast_1,
        geomean_speedup=math.exp(sum(math.log(s) for s in measured) / len(measured)) if measured else None,
        statuses=counts, records=records)


def _speed_measurable(verdicts: list) -> bool:
    """True when the verifier ran on a GPU (its provenance names one): only then is fast_1 meaningful."""
    for v in verdicts:
        prov = getattr(v, "provenance", None)
        device = prov.get("device") if isinstance(prov, dict) else getattr(prov, "device", None)
        if device not in (None, "cpu"):
            return True
    return False


def generate_answers(model, tokenizer, tasks: list[dict], max_new_tokens: int, batch_size: int = 8) -> list[str]:
    """One greedy answer per task (batched, left-padded generation with the KV cache)."""
    from drtriton.train.policy import sample

    answers: list[str] = []
    for i in range(0, len(tasks), max(1, batch_size)):
        chunk = tasks[i:i + batch_size]
        rollouts = sample(model, tokenizer, [build_prompt(t["program"]) for t in chunk], n=1,
                          max_new_tokens=max_new_tokens, greedy=True)
        answers.extend(r.text for r in rollouts)
    return answers


def sample_answers(model, tokenizer, tasks: list[dict], n: int, max_new_tokens: int, temperature: float,
                   batch_size: int = 64) -> list[list[str]]:
    """n sampled answers per task (as RL rollouts are drawn), `batch_size` tasks per generate() call."""
    from drtriton.train.policy import sample

    out: list[list[str]] = []
    for i in range(0, len(tasks), max(1, batch_size)):
        chunk = tasks[i:i + batch_size]
        rollouts = sample(model, tokenizer, [build_prompt(t["program"]) for t in chunk], n=n,
                          max_new_tokens=max_new_tokens, temperature=temperature)
        groups: list[list[str]] = [[] for _ in chunk]
        for r in rollouts:
            groups[r.prompt_index].append(r.text)
        out.extend(groups)
    return out


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k estimate from n samples of which c are correct: 1 - C(n-c, k) / C(n, k)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass_at_k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    return 1.0 if n - c < k else 1.0 - math.comb(n - c, k) / math.comb(n, k)


def verify_answers(tasks: list[dict], answers: list[str], verify_batch: Callable) -> EvalResult:
    """Parses (format errors scored, not raised), verifies the rest in one batch, summarizes."""
    parsed = [parse_answer(a) for a in answers]
    todo = [(t["program"], p.code) for t, p in zip(tasks, parsed) if p.ok]
    verdicts = iter(verify_batch(todo) if todo else [])
    all_verdicts = [next(verdicts) if p.ok else Outcome(FORMAT_ERROR, p.error) for p in parsed]
    return summarize(tasks, all_verdicts)


def evaluate_tasks(model, tokenizer, tasks: list[dict], verify_batch: Callable, max_new_tokens: int,
                   batch_size: int = 8) -> EvalResult:
    """Greedy pass@1 on `tasks`: generate, parse, verify, summarize."""
    t0 = time.time()
    answers = generate_answers(model, tokenizer, tasks, max_new_tokens, batch_size)
    result = verify_answers(tasks, answers, verify_batch)
    result.seconds = time.time() - t0
    return result


def eval_model_dir(model_dir: Path, level: int, cfg, n: int | None = None, max_new_tokens: int | None = None,
                   ws=None) -> EvalResult:
    """Loads a saved model folder and evaluates it on the run's held-out set of `level`."""
    from drtriton.train.models import ModelSpec, load_model
    from drtriton.train.workspace import Workspace

    ws = ws or Workspace(cfg)
    model, tokenizer = load_model(ModelSpec(path=Path(model_dir), dtype=cfg.model.dtype),
                                  device=cfg.resolved_device())
    tasks = ws.heldout(level)[: n or cfg.data.heldout_n]
    result = evaluate_tasks(model, tokenizer, tasks, ws.verify_batch, max_new_tokens or cfg.rl.new_tokens_for(level))
    result.level, result.model = level, str(model_dir)
    return result
