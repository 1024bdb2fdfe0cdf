"""Fast correctness rewards for RL: the verifier's static rules in the parent, then the answer run against
the problem's Model in persistent worker processes (torch and Triton imported, the device initialised, once
per worker instead of once per candidate). The sandboxed verifier (drtriton.verify) verifies about 48
candidates a minute with 16 workers on the H100 (docs/RESULTS.md): too few for RL steps of dozens of
rollouts in a run of minutes. The pipeline's evaluation runs this first on every held-out answer
(`fast_correct_rate`) and sends the verifier only those it did not reject (pipeline.FAST_FINAL).

    check = FastChecker(workers=14, device="cuda")
    verdicts = check([(problem_src, answer_src), ...])       # CheckVerdict(status, reason), input order
    check.close()

Each worker runs one answer at a time and then checks that its device still works: a CUDA fault (an
out-of-bounds kernel access) leaves the process's CUDA context broken, so every later answer in that
process would fail with the same error whatever its code. Such a worker reports the answer that broke it
and is replaced; so is a worker that died (its answer is the one that crashed it) or overran its time.

Covered: unparsable code and no ModelNew (format_error); every static anti-cheat rule of the verifier,
including "no @triton.jit kernel" (cheat_detected); exceptions while loading the module or compiling a
Triton kernel (compile_error) or running it (runtime_error, also a device fault that surfaces only after
the run); wrong shapes, dtypes or values on `seeds` fresh normal input draws at `tol` (incorrect); answers
still running after `timeout_s` (timeout: the worker is replaced); no answer is judged in a worker that
an earlier answer left broken.
Not covered (the verifier's job): runtime rules (torch compute in forward, kernels not launched, memoised
or stale outputs), heavy-tailed inputs, isolation from the parent's files, the GPU's memory and the Triton
cache shared with other workers, Python state an answer changes for the later answers of its worker
(a patched module that still lets a tensor op run), timing (speed is unmeasured here: r_speed is None, GRPO's reward is pure
correctness).
"""

from __future__ import annotations

import os
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from drtriton.train.datagen import CHECK_SEEDS, CHECK_TOL, _init_worker, run_check

START_TIMEOUT_S = 180.0  # a spawned worker imports torch and Triton and initialises the device
KILL_GRACE_S = 10.0  # past timeout_s: the in-worker alarm had its chance (a hung GPU kernel ignores it)


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


# ---- worker process side ----
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


def device_healthy(device: str) -> str | None:
    """None when this process can still run a tensor op on `device` and read the result back; else the
    error. After a CUDA fault every later CUDA call of the process fails (the context is lost)."""
    try:
        import torch

        if str(device).startswith("cuda"):
            torch.cuda.synchronize()
        if float(torch.ones(2, device=device).add_(1.0).sum().item()) != 4.0:
            return "a tensor op on the device gave a wrong result"
    except Exception as exc:  # noqa: BLE001 - whatever broke, this process must not judge another answer
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
    return None


def _worker_main(conn, device: str, interpret: bool) -> None:
    """One worker: set up once, then (problem, candidate, seeds, tol, timeout) -> (status, reason, broken)
    until told to stop; a worker whose device no longer works answers once more and exits."""
    from drtriton.train.datagen import _STATE

    _init_worker(device, interpret)
    conn.send(("ready", "", None))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        status, reason = _check_job(*job)
        broken = device_healthy(_STATE.get("device", "cpu"))
        if broken is not None and status == "correct":
            # the outputs compared equal, but a kernel of this answer faulted (asynchronous CUDA errors
            # surface at the next synchronisation): the answer is not correct
            status, reason = "runtime_error", f"device error after the run: {broken}"
        conn.send((status, reason, broken))
        if broken is not None:
            return


# ---- parent side ----
class _Slot:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, device: str):
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, device, device == "cpu"), daemon=True)
        self.proc.start()
        child.close()
        self.ready = False

    def recv(self, timeout: float):
        """The worker's next message, or None when it sent none within `timeout` or died."""
        try:
            if self.conn.poll(timeout):
                return self.conn.recv()
        except (EOFError, OSError):
            pass
        return None

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.join(timeout=5.0)
        except (OSError, ValueError):
            pass
        self.conn.close()


class FastChecker:
    """A thread-safe batch checker over persistent worker processes (see the module docstring)."""

    def __init__(self, workers: int, device: str = "cpu", seeds: tuple[int, ...] = CHECK_SEEDS,
                 tol: float = CHECK_TOL, timeout_s: float = 20.0):
        self.workers, self.device, self.seeds, self.tol, self.timeout_s = max(1, workers), device, seeds, tol, timeout_s
        self._slots: list[_Slot | None] = [None] * self.workers
        self._free: queue.Queue[int] = queue.Queue()
        for k in range(self.workers):
            self._free.put(k)
        self._lock = threading.Lock()
        self.restarts = 0  # workers replaced, for any reason (the counts by reason are in `replaced`)
        self.replaced = {"device_error": 0, "died": 0, "timeout": 0, "start_failed": 0}
        self.checked = 0
        self._epoch = 0  # close() starts a new one: answers of the old one still running come back None

    @property
    def started(self) -> int:
        """Worker processes started and not yet replaced or closed."""
        return sum(s is not None for s in self._slots)

    def _slot(self, k: int) -> _Slot:
        with self._lock:
            if self._slots[k] is None:
                self._slots[k] = _Slot(self.device)
            return self._slots[k]

    def _replace(self, k: int, why: str, epoch: int | None = None) -> None:
        """Kills slot k's worker and starts its successor at once: it sets up while the other slots work
        (the free slots are a FIFO queue, so slot k is used again last)."""
        with self._lock:
            slot, self._slots[k] = self._slots[k], None
            self.restarts += 1
            self.replaced[why] += 1
        if slot is not None:
            slot.kill()
        with self._lock:
            if self._slots[k] is None and why != "start_failed" and epoch in (None, self._epoch):
                self._slots[k] = _Slot(self.device)

    def warm(self) -> None:
        """Starts every worker process now, without waiting (a spawned worker imports torch and Triton and
        sets up the device: seconds each), so that the first real check finds them ready."""
        for k in range(self.workers):
            self._slot(k)

    def _run(self, k: int, job: tuple) -> CheckVerdict | None:
        """One answer on worker slot k (held by the caller); replaces the worker when it must go. None
        when the checker was closed before the answer was judged (unmeasured, never a guess)."""
        epoch = self._epoch
        for _ in range(2):  # a worker that fails to start is not the answer's fault: one more
            if self._epoch != epoch:
                return None
            slot = self._slot(k)
            if not slot.ready:
                msg = slot.recv(START_TIMEOUT_S)
                if msg is None or msg[0] != "ready":
                    self._replace(k, "start_failed")
                    continue
                slot.ready = True
            try:
                slot.conn.send(job)
            except (OSError, ValueError):
                self._replace(k, "died", epoch)
                continue
            msg = slot.recv(self.timeout_s + KILL_GRACE_S)
            if msg is None and self._epoch != epoch:
                return None
            if msg is None:
                died = not slot.proc.is_alive()
                self._replace(k, "died" if died else "timeout", epoch)
                if died:
                    return CheckVerdict("runtime_error", "the worker process died running this answer "
                                        f"(exit code {slot.proc.exitcode}: a crash in the answer?)")
                return CheckVerdict("timeout", f"still running after {self.timeout_s:g} s (worker killed)")
            status, reason, broken = msg
            if broken is not None:
                self._replace(k, "device_error", epoch)  # it exits by itself; later answers get a fresh one
            return CheckVerdict(status, reason)
        return CheckVerdict("runtime_error", "no worker process could be started")

    def _one(self, job: tuple) -> CheckVerdict | None:
        k = self._free.get()
        try:
            return self._run(k, job)
        except Exception as exc:  # noqa: BLE001 - a checker bug: named as such, and the worker replaced
            self._replace(k, "died")
            return CheckVerdict("runtime_error", f"fast check internal error: {type(exc).__name__}: {exc}"[:300])
        finally:
            self._free.put(k)

    def __call__(self, pairs: list[tuple[str, str]]) -> list[CheckVerdict | None]:
        """Verdicts in input order; None only for answers left unjudged by `close()` from another thread."""
        out: list[CheckVerdict | None] = [_static(c) for _, c in pairs]
        todo = [i for i, v in enumerate(out) if v is None]
        if todo:
            jobs = {i: (pairs[i][0], pairs[i][1], tuple(self.seeds), self.tol, self.timeout_s) for i in todo}
            with ThreadPoolExecutor(max_workers=min(self.workers, len(todo))) as ex:
                for i, verdict in zip(todo, ex.map(self._one, [jobs[i] for i in todo])):
                    out[i] = verdict
        with self._lock:
            self.checked += len(pairs)
        return out

    def close(self) -> None:
        """Stops every worker at once (answers still running in other threads come back None); a later
        call starts new ones."""
        with self._lock:
            self._epoch += 1
            slots, self._slots = self._slots, [None] * self.workers
        for slot in slots:
            if slot is not None:
                try:
                    slot.conn.send(None)
                except (OSError, ValueError):
                    pass
                slot.kill()


def default_workers() -> int:
    return max(2, (os.cpu_count() or 4) - 2)
