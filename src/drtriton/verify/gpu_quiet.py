"""A quiet GPU while one worker times: a cross-process reader-writer lock per GPU, on flock(2).

Every worker process shares its GPU with the pool's other workers, and a GPU time-slices between
processes: a CUDA event interval that overlaps another process's kernels (a candidate's correctness
calls, a judge's comparison, a spare's warm-up launch) counts that process's time too. Measured on an
H100: with a freshly forked spare creating its context beside a timing, 4 us kernels timed at 17-50x their
do_bench time (that start-up's warm-up launches were not measured apart from its context creation). So
GPU work takes this lock *shared* (many at once) and timing takes it *exclusive*; the exclusive side waits
at most `wait_s` and then times anyway, saying so in the verdict's notes rather than failing the
candidate.

Writer preference (a turnstile, as in the classic readers-writers construction): a waiting timer holds
the turnstile, so new shared sections queue behind it instead of starving it. flock locks belong to the
open file description and die with the process, so a killed worker never leaves the GPU locked. Shared
sections are short (one case's draw and forward call, one comparison); a section in progress when a timer
arrives finishes first. Everything a timer waits for behind the turnstile costs every worker that time,
so sections stay off CPU-only and driver-only work: a Triton compile inside a forward call steps out of
its section (`paused`, installed by `release_during_triton_compiles`); a timer warms up before it asks for
the GPU alone (timing.time_interleaved); and a worker's CUDA context creation (hundreds of ms to seconds
of driver work on a loaded host, almost no SM time) takes no section at all: only its warm-up launches do
(warmup.start_up). An earlier version made start-ups a third kind of section that a ramping timer waited
for; with the pool replacing workers continuously one was almost always under way, and on an H100 every
timing waited ~1.9 s for them (34-35 candidates/min against 55 without). Leaving the context creation
out of every section rests on its using almost no SM time; on the H100 (docs/RESULTS.md, issue 4b) two
batches of 64 timed with spares starting beside them were all timed alone and their medians agreed
(8.1 and 8.0 us).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time


class GpuQuiet:
    """One process's handle on one GPU's lock files (`path`.turn, `path`.main); None = no-op."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._turn = self._main = None
        self._depth = 0  # shared sections nest inside one process (the flock is per file description)
        self.waited_s = 0.0  # seconds this process waited to enter (or re-enter) shared sections
        self.held_s = 0.0  # ... and held them (paused stretches not counted)
        self._since = 0.0  # when the current hold began
        self.last_wait_s: float | None = None  # the last exclusive section: seconds waited for it
        self.last_hold_s: float | None = None  # ... and seconds held
        if path:
            flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC
            self._turn = os.open(path + ".turn", flags, 0o600)
            self._main = os.open(path + ".main", flags, 0o600)

    def _enter_shared(self, queue: bool) -> None:
        t0 = time.monotonic()
        if queue:
            fcntl.flock(self._turn, fcntl.LOCK_EX)  # queue behind a waiting timer
            fcntl.flock(self._turn, fcntl.LOCK_UN)
        fcntl.flock(self._main, fcntl.LOCK_SH)
        self._since = time.monotonic()
        self.waited_s += self._since - t0

    def _leave_shared(self) -> None:
        fcntl.flock(self._main, fcntl.LOCK_UN)
        self.held_s += time.monotonic() - self._since

    @contextlib.contextmanager
    def shared(self, queue: bool = True):
        """GPU work that must not overlap a timing (it may overlap other shared work).

        queue=False enters without queueing behind a waiting timer (it still waits while one times):
        only for short work another process is blocked on and that no process starts again until that
        one moves on (a judge's comparison answers a candidate waiting for it, outside any section), so
        a waiting timer lets at most one such section per process pass."""
        if self._main is None or self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._enter_shared(queue)
        self._depth = 1
        try:
            yield
        finally:
            self._depth = 0
            self._leave_shared()

    @contextlib.contextmanager
    def paused(self, before=None):
        """Steps out of the shared section this process is in (if any) for CPU-only work, such as
        compiling a Triton kernel inside a forward call: a waiting timer may take the GPU meanwhile, and
        the section is entered again afterwards (behind a waiting timer). `before()` runs first when a
        section is left (a device synchronize, so none of this process's kernels still run)."""
        if self._main is None or not self._depth:
            yield
            return
        if before is not None:
            before()
        self._leave_shared()
        try:
            yield
        finally:
            self._enter_shared(queue=True)

    @contextlib.contextmanager
    def exclusive(self, wait_s: float, busy=None):
        """Yields True when every other process's shared section was over within `wait_s` (the GPU is
        this process's alone until the block ends), False when it timed without that. `busy()`, when
        given, is called between tries while other processes finish (untimed calls that keep the GPU's
        clock up); the seconds waited and held are kept in last_wait_s and last_hold_s."""
        if self._main is None:
            yield True
            return
        t0 = time.monotonic()
        deadline = t0 + wait_s
        have_turn = False
        try:
            have_turn = _lock_until(self._turn, deadline, busy)
            quiet = have_turn and _lock_until(self._main, deadline, busy)
        except BaseException:  # busy() raised (a candidate's call): no one may be left queued behind us
            if have_turn:
                fcntl.flock(self._turn, fcntl.LOCK_UN)
            raise
        t1 = time.monotonic()
        self.last_wait_s, self.last_hold_s = t1 - t0, None
        try:
            yield quiet
        finally:
            if quiet:
                fcntl.flock(self._main, fcntl.LOCK_UN)
            if have_turn:
                fcntl.flock(self._turn, fcntl.LOCK_UN)
            self.last_hold_s = time.monotonic() - t1

    def close(self) -> None:
        for fd in (self._turn, self._main):
            if fd is not None:
                os.close(fd)
        self._turn = self._main = None


def _lock_until(fd: int, deadline: float, busy=None) -> bool:
    delay = 0.0005
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            if busy is not None:
                busy()
            else:
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


def release_during_triton_compiles(quiet: GpuQuiet, sync=None, jit_cls=None) -> bool:
    """Makes Triton's JIT compile (JITFunction._do_compile: source hashing, the compiler, the disk
    cache) run outside the process's shared section (`paused`, with `sync()` first): a first forward
    call compiles for 0.3-2 s of CPU on a loaded host, and a timer waiting for that section holds up every
    worker's GPU work meanwhile. Returns False when this Triton has no _do_compile (nothing wrapped)."""
    if jit_cls is None:
        from triton.runtime.jit import JITFunction as jit_cls
    original = getattr(jit_cls, "_do_compile", None)
    if original is None or getattr(original, "_drt_paused", False):
        return original is not None

    def _do_compile(self, *args, **kwargs):
        with quiet.paused(sync):
            return original(self, *args, **kwargs)

    _do_compile._drt_paused = True
    _do_compile.__wrapped__ = original
    jit_cls._do_compile = _do_compile
    return True
