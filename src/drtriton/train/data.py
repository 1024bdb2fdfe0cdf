"""Training data: tasks per curriculum level, held-out sets disjoint by canonical hash, and SFT pairs
(program -> verified Triton ModelNew from the code generator).

    source = SynthSource()                                   # or FolderSource(Path("tests/problems"))
    held = heldout_tasks(source, level=1, n=32)              # fixed seeds; same tasks on every run
    stream = TaskStream(source, seed=0, exclude=hashes_of(held))
    task = stream.next(level=1)                              # fresh, never a held-out hash
    pairs = build_sft_pairs(source, levels=[1, 2], n_per_level=100, seed=0, exclude=...)

A task is a dict with at least `hash`, `program` (KernelBench-format source) and `level`.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from drtriton.train.prompt import build_prompt, format_answer
from drtriton.util.errors import UsageError
from drtriton.util.fileio import atomic_open

# Held-out seeds live far from training seeds, and disjointness is enforced by hash anyway.
HELDOUT_SEED_BASE = 1 << 40


def text_hash(program: str) -> str:
    """Hash of a program's text: the task key when no canonical graph hash is available (files)."""
    return hashlib.sha256(program.encode()).hexdigest()[:16]


def hashes_of(tasks: Iterable[dict]) -> set[str]:
    return {t["hash"] for t in tasks}


class SynthSource:
    """Tasks drawn from the C++ CSP-DAG synthesizer: one program per (level, seed), deterministic."""

    def __init__(self, scale: str | None = None):
        from drtriton import synth  # lazy: the engine extension is only needed when drawing

        self._synth = synth
        self._scale = scale

    def draw(self, level: int, seed: int) -> dict:
        kwargs = {"level": level, "n": 1, "seed": seed}
        if self._scale is not None:
            kwargs["shape_scale"] = self._scale
        task = next(iter(self._synth.synthesize(self._synth.SynthConfig(**kwargs))))
        return dict(task)


class FolderSource:
    """Tasks from a folder of KernelBench-format files (level = `# level: N` line, else 1); for tests and
    for training on a fixed problem set. The task hash is the text hash."""

    def __init__(self, folder: Path):
        files = sorted(Path(folder).glob("*.py"))
        if not files:
            raise UsageError(f"no .py problem files in {folder}; point data.folder at KernelBench-format files")
        self.tasks = []
        for f in files:
            text = f.read_text()
            level = 1
            for line in text.splitlines()[:20]:
                if line.lower().startswith("# level:"):
                    level = int(line.split(":", 1)[1])
            self.tasks.append({"hash": text_hash(text), "program": text, "level": level, "name": f.stem})

    def draw(self, level: int, seed: int) -> dict:
        pool = [t for t in self.tasks if t["level"] == level] or self.tasks
        return dict(random.Random(seed).choice(pool), level=level)


def heldout_tasks(source, level: int, n: int, max_tries_factor: int = 4) -> list[dict]:
    """The fixed held-out set of a level: the first `n` distinct hashes drawn from reserved seeds."""
    seen: dict[str, dict] = {}
    seed = HELDOUT_SEED_BASE + level * 1_000_003
    for i in range(n * max_tries_factor):
        if len(seen) >= n:
            break
        task = source.draw(level, seed + i)
        seen.setdefault(task["hash"], task)
    return list(seen.values())


@dataclass
class TaskStream:
    """Fresh training tasks per level, online: never a hash in `exclude`, never a repeat.

    Its position (`cursor`) is part of the trainer state, so a resumed run draws new tasks.
    """

    source: object
    seed: int = 0
    exclude: frozenset[str] | set[str] = frozenset()
    cursor: int = 0
    max_skips: int = 1000  # consecutive excluded/repeated draws before giving up (a too-small space)

    def __post_init__(self) -> None:
        self.seen: set[str] = set()

    def next(self, level: int, allow_repeats: bool = False) -> dict:
        for _ in range(self.max_skips):
            self.cursor += 1
            task = self.source.draw(level, self.seed * 1_000_000_007 + self.cursor)
            h = task["hash"]
            if h in self.exclude or (h in self.seen and not allow_repeats):
                continue
            self.seen.add(h)
            return task
        if not allow_repeats:
            return self.next(level, allow_repeats=True)  # small spaces (folders): reuse, never held-out
        raise UsageError(f"level {level}: every draw in {self.max_skips} tries was a held-out task; "
                         "use a larger task source or a smaller held-out set")

    def batch(self, level: int, n: int) -> list[dict]:
        return [self.next(level) for _ in range(n)]


class ListStream:
    """A fixed, ordered list of training tasks per level (drawn up front, e.g. in parallel): `next(level)`
    gives them in order and cycles once a level runs out. Same interface as TaskStream (`cursor`, `seen`
    and `batch`), so two runs given equal lists train on the same prompts in the same order."""

    def __init__(self, tasks_by_level: dict[int, list[dict]]):
        self.tasks = {int(k): list(v) for k, v in tasks_by_level.items()}
        self.cursor = 0
        self.seen: set[str] = set()
        self._pos: dict[int, int] = {}

    def next(self, level: int) -> dict:
        pool = self.tasks.get(level) or []
        if not pool:
            raise UsageError(f"no training tasks were drawn for level {level}; draw some for every "
                             f"curriculum level (have levels {sorted(k for k, v in self.tasks.items() if v)})")
        # Restored `seen` (a resumed run) skips tasks already used, until the level wraps around.
        start = self._pos.get(level, 0) % len(pool)
        i = next((j for j in range(start, len(pool)) if pool[j]["hash"] not in self.seen), None)
        if i is None:
            i = start  # every task of the level was used: go round again, in the same order
        self._pos[level] = i + 1
        self.cursor += 1
        self.seen.add(pool[i]["hash"])
        return pool[i]

    def batch(self, level: int, n: int) -> list[dict]:
        return [self.next(level) for _ in range(n)]


class RevisitStream(ListStream):
    """RL prompts that come back while they teach: DRPO and GRPO learn only from groups with correct and
    wrong rollouts, and most prompts give none (all wrong, or all right). Each batch takes up to
    `revisit_share` of its prompts from the tasks whose last group was mixed (the largest p(1-p) first,
    then the least recently used), then tasks not yet used in list order, then the least recently used
    of the rest (a task all wrong or all right once may be mixed later, as the policy changes).

        stream = RevisitStream({1: tasks}, revisit_share=0.5)
        batch = stream.batch(1, 32)
        stream.observe(batch[0], correct=3, total=8)       # the RL loop, once the group is scored

    Two runs given equal lists start on the same prompts; later batches follow each run's own rewards.
    Observations are not part of a checkpoint (a resumed run starts them afresh).
    """

    def __init__(self, tasks_by_level: dict[int, list[dict]], revisit_share: float = 0.5):
        super().__init__(tasks_by_level)
        if not 0.0 <= revisit_share <= 1.0:
            raise UsageError(f"revisit_share must be in [0, 1], got {revisit_share}")
        self.revisit_share = revisit_share
        self.last: dict[str, tuple[int, int]] = {}  # hash -> (correct, total) of its latest scored group
        self.used_at: dict[str, int] = {}  # hash -> the batch that last used it
        self.batches = 0
        self.last_revisits = 0  # tasks of the latest batch chosen for their mixed last group

    def observe(self, task: dict, correct: int, total: int) -> None:
        self.last[task["hash"]] = (int(correct), int(total))

    def mixed(self, level: int) -> list[dict]:
        """Tasks of the level whose latest group had correct and wrong rollouts, best first."""
        def spread(t: dict) -> float:
            c, n = self.last[t["hash"]]
            return (c / n) * (1 - c / n)

        pool = [t for t in self.tasks.get(level) or [] if 0 < self.last.get(t["hash"], (0, 0))[0]
                < self.last[t["hash"]][1]]
        return sorted(pool, key=lambda t: (-spread(t), self.used_at.get(t["hash"], -1)))

    def batch(self, level: int, n: int) -> list[dict]:
        pool = self.tasks.get(level) or []
        if not pool:
            return super().batch(level, n)  # the same error as ListStream
        self.batches += 1
        out: list[dict] = []
        taken: set[str] = set()

        def take(t: dict) -> None:
            out.append(t)
            taken.add(t["hash"])
            self.used_at[t["hash"]] = self.batches
            self.seen.add(t["hash"])
            self.cursor += 1

        for t in self.mixed(level)[: math.ceil(self.revisit_share * n)]:
            take(t)
        self.last_revisits = len(out)
        for t in pool:  # new tasks, in list order
            if len(out) >= n:
                break
            if t["hash"] not in self.used_at:
                take(t)
        while len(out) < n:  # the least recently used of the rest
            rest = [t for t in pool if t["hash"] not in taken]
            if not rest:  # every task of the level is in this batch: a level smaller than the batch repeats
                taken.clear()
                rest = list(pool)
            take(min(rest, key=lambda t: self.used_at.get(t["hash"], -1)))
        return out


def reference_solution(program: str) -> str | None:
    """The code generator's ModelNew for a program, or None when it cannot compile it."""
    from drtriton.frontend import CompileConfig, compile_problem

    try:
        return compile_problem(program, CompileConfig()).source
    except Exception:  # noqa: BLE001 - an uncompilable program is skipped, and counted by the caller
        return None


def build_sft_pairs(
    source,
    levels: Iterable[int],
    n_per_level: int,
    seed: int,
    exclude: set[str],
    solve: Callable[[str], str | None] = reference_solution,
    check: Callable[[list[tuple[str, str]]], list] | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[dict], dict]:
    """SFT pairs per level: prompt from the template, completion = the verified reference solution.

    Args:
        solve: program -> ModelNew source (the code generator by default).
        check: a batch verifier over (problem, candidate) pairs returning verdicts; None keeps every
            compiled solution unverified (recorded as verified=False in each pair).
    Returns:
        (pairs, counts): counts per level of drawn, compiled and verified tasks.
    """
    from drtriton.train.rewards import r_correct

    pairs, counts = [], {}
    stream = TaskStream(source, seed=seed, exclude=set(exclude))
    for level in levels:
        c = counts.setdefault(level, {"drawn": 0, "compiled": 0, "verified": 0})
        batch = []
        for _ in range(n_per_level):
            task = stream.next(level)
            c["drawn"] += 1
            sol = solve(task["program"])
            if sol is not None:
                c["compiled"] += 1
                batch.append((task, sol))
            if progress:
                progress(1)
        verdicts = check([(t["program"], s) for t, s in batch]) if check and batch else [None] * len(batch)
        for (task, sol), verdict in zip(batch, verdicts):
            if verdict is not None and r_correct(verdict) != 1.0:
                continue
            c["verified"] += verdict is not None
            pairs.append({"hash": task["hash"], "level": level, "prompt": build_prompt(task["program"]),
                          "completion": format_answer(sol), "verified": verdict is not None})
    return pairs, counts


def write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    with atomic_open(Path(path)) as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")


def read_jsonl(path: Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"data file {path} does not exist; build it with `drtriton train sft` (data.build)")
    with path.open() as fh:
        return [json.loads(line) for line in fh if line.strip()]


def iter_levels(tasks: Iterable[dict]) -> Iterator[int]:
    return iter(sorted({t["level"] for t in tasks}))
