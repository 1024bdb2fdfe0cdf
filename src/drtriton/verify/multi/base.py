"""What the multi-device verifier pools share: the VerifierPool-shaped front (verify, verify_many, close),
the verdict cache, input order and progress, and the slot choice (least loaded, then problem affinity).

A backend implements `_dispatch(problem_src, candidate_src) -> Future[(Verdict, cacheable)]`; the front
turns that into ordered verdicts and never lets an exception reach the caller (a verifier bug is a
RUNTIME_ERROR verdict that says so, as in VerifierPool.verify_many).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, as_completed
from dataclasses import replace

from drtriton.verify.cache import VerdictCache, cache_key
from drtriton.verify.config import VerifyConfig
from drtriton.verify.verdict import Status, Verdict

# A reference run (the problem's Model on every seed) costs about one candidate check, so a device that
# already holds a problem's reference wins a tie against one that is one candidate less busy.
REFERENCE_PENALTY = 1


def problem_key(problem_src: str) -> str:
    return hashlib.sha256(problem_src.encode()).hexdigest()[:16]


def pick_slot(loads: Sequence[int], capacity: Sequence[int], has_reference: Sequence[bool], start: int) -> int | None:
    """The slot to run the next candidate on, or None when every slot is full.

    Least loaded wins, counting a missing reference as REFERENCE_PENALTY more load; ties go to the first
    slot at or after `start` (round robin), so equal slots share work evenly.
    """
    n = len(loads)
    best, best_score = None, None
    for off in range(n):
        k = (start + off) % n
        if loads[k] >= capacity[k]:
            continue
        score = loads[k] + (0 if has_reference[k] else REFERENCE_PENALTY)
        if best_score is None or score < best_score:
            best, best_score = k, score
    return best


class BoundedSet:
    """The last `size` problem keys a slot has seen (its VerifierPool keeps 32 references)."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._items: dict[str, None] = {}

    def add(self, key: str) -> None:
        self._items.pop(key, None)
        self._items[key] = None
        while len(self._items) > self.size:
            self._items.pop(next(iter(self._items)))

    def __contains__(self, key: str) -> bool:
        return key in self._items


class MultiPoolBase:
    """The VerifierPool API over a backend that places candidates on several devices or hosts."""

    def __init__(self, config: VerifyConfig | None, cache_path=None) -> None:
        self.config = config or VerifyConfig()
        self._cache = VerdictCache(cache_path) if cache_path else None
        self._front_lock = threading.Lock()
        self._closed = False

    # ---- backend hooks ----
    def _dispatch(self, problem_src: str, candidate_src: str) -> Future:
        """Future of (Verdict, cacheable): cacheable is False for failures of the infrastructure."""
        raise NotImplementedError

    def _cache_extra(self) -> str:
        """Mixed into the cache key: what the backend's devices are (the driver may have no GPU)."""
        return ""

    # ---- helpers for backends ----
    def verdict(self, status: Status, reason: str) -> Verdict:
        return Verdict(status=status, reason=reason, policy=self.config.policy, config_hash=self.config.hash())

    def as_own(self, verdict: Verdict) -> Verdict:
        """A device pool's verdict under this pool's config hash: the device index is placement, not
        protocol (the GPU that ran it stays in the verdict's provenance)."""
        return replace(verdict, config_hash=self.config.hash())

    # ---- the VerifierPool API ----
    def submit(self, problem_src: str, candidate_src: str) -> Future:
        """Future of the Verdict of one candidate; cached verdicts come back completed."""
        out: Future = Future()
        if self._closed:
            out.set_result(self.verdict(Status.RUNTIME_ERROR, "verifier pool is closed; make a new pool"))
            return out
        key = None
        if self._cache is not None:
            key = hashlib.sha256(
                (cache_key(problem_src, candidate_src, self.config) + "\0" + self._cache_extra()).encode()
            ).hexdigest()
            hit = self._cache.get(key)
            if hit is not None:
                out.set_result(hit)
                return out

        def finish(inner: Future) -> None:
            try:
                verdict, cacheable = inner.result()
            except Exception as exc:  # noqa: BLE001 - a verifier bug still yields a verdict, named as such
                verdict, cacheable = self.verdict(
                    Status.RUNTIME_ERROR,
                    f"verifier internal error (please report): {type(exc).__name__}: {exc}",
                ), False
            # A timeout may be load, not the candidate (VerifierPool's rule); infrastructure failures too.
            if key is not None and cacheable and verdict.status is not Status.TIMEOUT:
                self._cache.put(key, verdict)
            out.set_result(verdict)

        try:
            inner = self._dispatch(problem_src, candidate_src)
        except Exception as exc:  # noqa: BLE001 - same rule as above: a verdict, not an exception
            inner = Future()
            inner.set_exception(exc)
        inner.add_done_callback(finish)
        return out

    def verify(self, problem_src: str, candidate_src: str) -> Verdict:
        return self.submit(problem_src, candidate_src).result()

    def verify_many(
        self, pairs: list[tuple[str, str]], progress: Callable[[int, int], None] | None = None
    ) -> list[Verdict]:
        """Verdicts in input order; `progress(done, total)` is called after each candidate."""
        futures = [self.submit(p, c) for p, c in pairs]
        if progress is not None:
            for done, _ in enumerate(as_completed(futures), start=1):
                progress(done, len(futures))
        return [f.result() for f in futures]

    def close(self) -> None:
        self._closed = True
        if self._cache is not None:
            self._cache.close()
            self._cache = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
