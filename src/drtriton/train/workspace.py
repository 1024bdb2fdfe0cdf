"""What every training stage of one run shares: the task source, the fixed held-out sets (one per level),
the exclusion set that keeps training tasks disjoint from them, and the verifier.

    ws = Workspace(cfg)
    ws.heldout(level=2)                 # fixed tasks (reserved seeds)
    ws.stream.next(level=2)             # a fresh training task, never a held-out hash
    verdicts = ws.verify_batch([(problem_src, candidate_src), ...])
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

from drtriton.train.config import RunConfig
from drtriton.train.data import (
    FolderSource,
    SynthSource,
    TaskStream,
    build_sft_pairs,
    hashes_of,
    heldout_tasks,
)


def make_verifier(fields: dict, workers: int = 2) -> Callable[[list[tuple[str, str]]], list]:
    """A batch verifier over (problem, candidate) pairs backed by the verifier pool (sandboxed workers).

    `fields` are VerifyConfig fields (tuples may come as YAML lists); a bad field is a UsageError.
    """
    from drtriton.util.errors import UsageError
    from drtriton.verify import VerifierPool, VerifyConfig

    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}
    try:
        config = VerifyConfig(**kw)
    except TypeError as exc:
        raise UsageError(f"verify: {exc}; the keys are VerifyConfig fields (see `drtriton verify --help`)") from None
    pool = VerifierPool(config, workers=workers)
    return pool.verify_many  # bound method: pool.close() via verify_many.__self__


class CachedVerifier:
    """A batch verifier over a thread-safe `verify_one(problem, candidate)` that verifies each distinct pair
    once (rollouts of one prompt often repeat an answer; models evaluated on the same tasks often agree)
    and can stop at a deadline: pairs not verified by then come back as None (unmeasured, never guessed).

        verify = CachedVerifier(pool.verify, workers=14, close=pool.close)
        verdicts = verify(pairs)                       # all verified
        verdicts = verify(pairs, deadline=t)           # None where time ran out
    """

    def __init__(self, verify_one: Callable[[str, str], object] | None = None, workers: int = 1,
                 close: Callable | None = None, verify_many: Callable[[list], list] | None = None):
        """Give `verify_one` (run in `workers` threads; deadlines work) or a batch `verify_many`."""
        import threading

        if (verify_one is None) == (verify_many is None):
            raise ValueError("CachedVerifier needs exactly one of verify_one and verify_many")
        self._verify_one = verify_one
        self._verify_many = verify_many
        self.workers = max(1, int(workers))
        self._close = close
        self._cache: dict[tuple[str, str], object] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.verified = 0

    def _one(self, pair: tuple[str, str]):
        try:
            return self._verify_one(*pair)
        except Exception as exc:  # noqa: BLE001 - a verifier bug still yields a verdict, named as such
            from drtriton.train.rewards import Outcome

            return Outcome("runtime_error", f"verifier internal error: {type(exc).__name__}: {exc}"[:300])

    def __call__(self, pairs: list[tuple[str, str]], deadline: float | None = None) -> list:
        import time
        from concurrent.futures import ThreadPoolExecutor, wait

        with self._lock:
            todo = list(dict.fromkeys(p for p in pairs if p not in self._cache))
            self.hits += len(pairs) - len(todo)
        if todo and self._verify_many is not None:
            verdicts = self._verify_many(todo)
            with self._lock:  # None: not judged (a checker closed meanwhile); asked again next time
                self._cache.update((p, v) for p, v in zip(todo, verdicts) if v is not None)
                self.verified += sum(v is not None for v in verdicts)
        elif todo:
            ex = ThreadPoolExecutor(max_workers=min(self.workers, len(todo)))
            futures = {ex.submit(self._one, p): p for p in todo}
            timeout = None if deadline is None else max(0.0, deadline - time.time())
            done, _ = wait(futures, timeout=timeout)
            ex.shutdown(wait=deadline is None, cancel_futures=True)
            with self._lock:
                for f in done:
                    self._cache[futures[f]] = f.result()
                self.verified += len(done)
        with self._lock:
            return [self._cache.get(p) for p in pairs]

    def close(self) -> None:
        if self._close is not None:
            self._close()


class Workspace:
    def __init__(self, cfg: RunConfig, source=None, verifier: Callable | None = None,
                 solve: Callable[[str], str | None] | None = None, heldout: dict[int, list[dict]] | None = None,
                 stream=None):
        """`solve` maps a program to its reference ModelNew (default: the code generator); `heldout` gives
        held-out sets drawn elsewhere (same reserved seeds, e.g. in parallel); `stream` replaces the online
        TaskStream (e.g. a data.ListStream of tasks drawn up front)."""
        self.cfg = cfg
        self.solve = solve
        if source is None and (heldout is None or stream is None):
            source = FolderSource(cfg.data.folder) if cfg.data.source == "folder" else SynthSource(cfg.data.scale)
        self.source = source
        self._verifier = verifier
        self._heldout: dict[int, list[dict]] = {int(k): list(v) for k, v in (heldout or {}).items()}
        self.stream = stream if stream is not None else TaskStream(source, seed=cfg.seed, exclude=self.excluded)

    def heldout(self, level: int) -> list[dict]:
        if level not in self._heldout:
            self._heldout[level] = heldout_tasks(self.source, level, self.cfg.data.heldout_n)
        return self._heldout[level]

    @cached_property
    def excluded(self) -> set[str]:
        """Hashes of every held-out task of every level the run may touch."""
        levels = sorted(set(self.cfg.data.levels) | set(self.cfg.curriculum.levels))
        out: set[str] = set()
        for level in levels:
            out |= hashes_of(self.heldout(level))
        return out

    def verify_batch(self, pairs: list[tuple[str, str]]) -> list:
        if self._verifier is None:
            self._verifier = make_verifier(self.cfg.verify, self.cfg.rl.verify_workers)
        return self._verifier(pairs)

    def close(self) -> None:
        """Stops the verifier pool's workers (if this workspace started one)."""
        pool = getattr(self._verifier, "__self__", self._verifier)
        if pool is not None and hasattr(pool, "close"):
            pool.close()
        self._verifier = None

    def build_sft_pairs(self, progress=None):
        check = self.verify_batch if self.cfg.data.verify_pairs else None
        kw = {"solve": self.solve} if self.solve is not None else {}
        return build_sft_pairs(self.source, self.cfg.data.levels, self.cfg.data.sft_n_per_level,
                               seed=self.cfg.seed + 1, exclude=self.excluded, check=check, progress=progress, **kw)
