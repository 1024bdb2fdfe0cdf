"""Fast correctness rewards for RL: the verifier's static rules in the parent, then the answer run against
the problem's Model in persistent worker processes (torch and Triton imported, the device initialised, once
per worker instead of once per candidate). The sandboxed verifier (drtriton.verify) verifies about 48
candidates a minute with 16 workers on the H100 (docs/RESULTS.md): too few for RL steps of dozens of
rollouts in a run of minutes. The pipeline's evaluation runs this first on every held-out answer
(`fast_correct_rate`) and sends the verifier only those it did not reject (pipeline.FAST_FINAL).

    check = FastChecker(workers=14, device="cuda")
    verdicts = check([(problem_src, answer_src), ...])       # CheckVerdict(status, reason), input order
    check.close()

Covered: unparsable code and no ModelNew (format_error); every static anti-cheat rule of the verifier,
including "no @triton.jit kernel" (cheat_detected); exceptions while loading the module or compiling a
Triton kernel (compile_error) or running it (runtime_error); wrong shapes, dtypes or values on `seeds`
fresh normal input draws at `tol` (incorrect); answers still running after `timeout_s` (timeout: the
workers are killed and the pool restarted).
Not covered (the verifier's job): runtime rules (torch compute in forward, kernels not launched, memoised
or stale outputs), heavy-tailed inputs, isolation from the parent's files and the GPU state of other
answers, timing (speed is unmeasured here: r_speed is None, GRPO's reward is pure correctness).
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import CancelledError, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from drtriton.train.datagen import CHECK_SEEDS, CHECK_TOL, _init_worker, run_check


@dataclass(frozen=True, slots=True)
class CheckVerdict:
    """What the fast check concluded; the fields rewards.py reads (speed is never measured here)."""

    status: str
    reason: str = ""
    speedup_vs_eager: float | None = None

    def to_json(self) -> dict:
        return {"status": self.status, "reason": self.reason, "speedup_vs_eager": None}


def _static(candidate: str) -> CheckVerdict | None:
    """The verifier's own parse and static rules (no process needed); None when they pass."""
    from drtriton.verify.rules import check_static, has_model_new, parse_candidate

    tree, why = parse_candidate(candidate)
    if tree is None:
        return CheckVerdict("format_error", why)
    if not has_model_new(tree):
        return CheckVerdict("format_error", "candidate defines no top-level class ModelNew")
    findings = check_static(tree)
    if findings:
        return CheckVerdict("cheat_detected", f"{findings[0].rule}: {findings[0].reason}")
    return None


def _noop() -> None:
    """A job that only makes the pool start a worker (its initializer imports torch and Triton)."""


class _Alarm(BaseException):
    """Raised in a worker by SIGALRM: a BaseException, so the answer's own `except Exception` cannot eat it."""


def _on_alarm(signum, frame):
    raise _Alarm()


def _check_job(problem: str, candidate: str, seeds: tuple[int, ...], tol: float, timeout_s: float) -> tuple[str, str]:
    import signal

    from drtriton.train.datagen import _STATE

    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)  # Python-level hangs; a hung GPU kernel needs the kill
    try:
        return run_check(problem, candidate, _STATE.get("device", "cpu"), seeds, tol, _STATE.get("folder"))
    except _Alarm:
        return "timeout", f"still running after {timeout_s:g} s"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


class FastChecker:
    """A thread-safe batch checker over a pool of persistent worker processes (see the module docstring)."""

    def __init__(self, workers: int, device: str = "cpu", seeds: tuple[int, ...] = CHECK_SEEDS,
                 tol: float = CHECK_TOL, timeout_s: float = 20.0):
        self.workers, self.device, self.seeds, self.tol, self.timeout_s = max(1, workers), device, seeds, tol, timeout_s
        self._lock = threading.Lock()
        self._ex: ProcessPoolExecutor | None = None
        self._started = time.monotonic()
        self.restarts = 0
        self.checked = 0

    def _pool(self) -> ProcessPoolExecutor:
        import multiprocessing as mp

        with self._lock:
            if self._ex is None:
                self._started = time.monotonic()
                self._ex = ProcessPoolExecutor(max_workers=self.workers, mp_context=mp.get_context("spawn"),
                                               initializer=_init_worker, initargs=(self.device, self.device == "cpu"))
            return self._ex

    def _restart(self, ex: ProcessPoolExecutor) -> None:
        """Kills a pool that holds a hung answer (a process pool cannot cancel one running job)."""
        with self._lock:
            if self._ex is not ex:
                return  # another thread already restarted it
            self._ex = None
            self.restarts += 1
        for proc in list(getattr(ex, "_processes", {}).values()):
            proc.kill()
        ex.shutdown(wait=False, cancel_futures=True)

    def warm(self) -> None:
        """Starts every worker process now, without waiting (a spawned worker imports torch and Triton and
        sets up the device: seconds each), so that the first real check finds them ready."""
        ex = self._pool()
        for _ in range(self.workers):
            ex.submit(_noop)

    def __call__(self, pairs: list[tuple[str, str]]) -> list[CheckVerdict]:
        out: list[CheckVerdict | None] = [_static(c) for _, c in pairs]
        todo = [i for i, v in enumerate(out) if v is None]
        for attempt in range(2):  # a pool broken by another answer's crash or hang: one more try
            if not todo:
                break
            ex = self._pool()
            try:
                futures = {i: ex.submit(_check_job, pairs[i][0], pairs[i][1], self.seeds, self.tol, self.timeout_s)
                           for i in todo}
            except (BrokenProcessPool, RuntimeError):
                self._restart(ex)
                continue
            # Last resort for hangs the in-worker alarm cannot interrupt (a GPU kernel that never ends): every
            # queued answer may take its timeout, plus up to a minute while a new pool's workers start.
            grace = max(0.0, 60.0 - (time.monotonic() - self._started))
            deadline = time.monotonic() + self.timeout_s * (1 + len(todo) / self.workers) + grace
            retry = []
            for i, f in futures.items():
                try:
                    status, reason = f.result(timeout=max(0.1, deadline - time.monotonic()))
                    out[i] = CheckVerdict(status, reason)
                except FutureTimeout:
                    out[i] = CheckVerdict("timeout", f"still running after {self.timeout_s:g} s (worker killed)")
                    self._restart(ex)
                except (BrokenProcessPool, CancelledError):
                    if attempt == 0:
                        retry.append(i)
                    else:
                        out[i] = CheckVerdict("runtime_error", "the worker process died (crash in the answer?)")
            todo = retry
        for i in todo:
            out[i] = out[i] or CheckVerdict("runtime_error", "the worker process died (crash in the answer?)")
        self.checked += len(pairs)
        return out  # type: ignore[return-value]

    def close(self) -> None:
        with self._lock:
            ex, self._ex = self._ex, None
        if ex is not None:
            ex.shutdown(wait=False, cancel_futures=True)


def default_workers() -> int:
    return max(2, (os.cpu_count() or 4) - 2)
