"""A quiet GPU while one worker times: a cross-process reader-writer lock per GPU, on flock(2).

Every worker process shares its GPU with the pool's other workers, and a GPU time-slices between
processes: a CUDA event interval that overlaps another process's kernels (a candidate's correctness
calls, a judge's comparison, a spare creating its CUDA context) counts that process's time too.
Measured on an H100: with a freshly forked spare creating its context beside a timing, 4 us kernels
timed at 17-50x their do_bench time. So GPU work takes this lock *shared* (many at once) and timing takes
it *exclusive*; the exclusive side waits at most `wait_s` and then times anyway, saying so in the verdict's
notes rather than failing the candidate.

Writer preference (a turnstile, as in the classic readers-writers construction): a waiting timer holds
the turnstile, so new shared sections queue behind it instead of starving it. flock locks belong to the
open file description and die with the process, so a killed worker never leaves the GPU locked. Shared
sections are short (one forward call and its sync, one comparison); a section in progress when a timer
arrives finishes first.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time


class GpuQuiet:
    """One process's handle on one GPU's lock files (`path`.turn and `path`.main); path None = no-op."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._turn = self._main = None
        self._depth = 0  # shared sections nest inside one process (the flock is per file description)
        if path:
            flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC
            self._turn = os.open(path + ".turn", flags, 0o600)
            self._main = os.open(path + ".main", flags, 0o600)

    @contextlib.contextmanager
    def shared(self):
        """GPU work that must not overlap a timing (it may overlap other shared work)."""
        if self._main is None or self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        fcntl.flock(self._turn, fcntl.LOCK_EX)  # queue behind a waiting timer
        fcntl.flock(self._turn, fcntl.LOCK_UN)
        fcntl.flock(self._main, fcntl.LOCK_SH)
        self._depth = 1
        try:
            yield
        finally:
            self._depth = 0
            fcntl.flock(self._main, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def exclusive(self, wait_s: float):
        """Yields True when every other process's shared section was over within `wait_s` (the GPU is
        this process's alone until the block ends), False when it timed without that."""
        if self._main is None:
            yield True
            return
        deadline = time.monotonic() + wait_s
        have_turn = _lock_until(self._turn, deadline)
        quiet = have_turn and _lock_until(self._main, deadline)
        try:
            yield quiet
        finally:
            if quiet:
                fcntl.flock(self._main, fcntl.LOCK_UN)
            if have_turn:
                fcntl.flock(self._turn, fcntl.LOCK_UN)

    def close(self) -> None:
        for fd in (self._turn, self._main):
            if fd is not None:
                os.close(fd)
        self._turn = self._main = None


def _lock_until(fd: int, deadline: float) -> bool:
    delay = 0.0005
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, 0.01)


_NO_LOCK = GpuQuiet(None)
_current: GpuQuiet = _NO_LOCK


def install(path: str | None) -> GpuQuiet:
    """This worker process's lock (set once at worker start from its settings)."""
    global _current
    _current = GpuQuiet(path) if path else _NO_LOCK
    return _current


def current() -> GpuQuiet:
    return _current
