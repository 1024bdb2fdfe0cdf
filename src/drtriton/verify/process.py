"""One worker subprocess seen from the parent: spawn, request with deadline, memory watchdog, kill.

A worker is `python -m drtriton.verify.worker` in its own session (so a kill takes any children with
it), stdout = protocol pipe, stderr = a capture file capped by RLIMIT_FSIZE inside the worker.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from drtriton.verify.protocol import ProtocolError, decode_parts, encode_parts, write_parts

_SIGNAL_HINTS = {
    signal.SIGSEGV: "segmentation fault (illegal memory access?)",
    signal.SIGBUS: "bus error (illegal memory access?)",
    signal.SIGABRT: "abort (a failed check in a C++/CUDA library?)",
    signal.SIGKILL: "killed (out of memory, or the CPU-time limit)",
    signal.SIGXCPU: "CPU-time limit exceeded",
    signal.SIGFPE: "floating point exception",
    signal.SIGILL: "illegal instruction",
}


class WorkerCrash(Exception):
    """The worker died or broke the protocol; the message is the verdict's reason."""


class WorkerTimeout(Exception):
    pass


def _package_root() -> str:
    import drtriton

    return str(Path(drtriton.__file__).resolve().parent.parent)


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def worker_env(device: str) -> dict:
    """The environment of a worker (and of the zygote that forks workers for this device kind)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [_package_root(), env.get("PYTHONPATH", "")] if p)
    env["TORCHINDUCTOR_COMPILE_THREADS"] = "1"  # no compile-worker pools inside a sandboxed worker
    # One CPU thread per worker: the pool runs one worker per core, and a torch/OpenMP pool of
    # nproc threads in each (spin-waiting between ops) oversubscribed a 16-core H100 host.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = "1"
    env["PYTHONFAULTHANDLER"] = "1"  # a segfault leaves its Python stack in the capture file
    if (sys.dont_write_bytecode or env.get("PYTHONDONTWRITEBYTECODE")) and env.get("DRT_WORKER_PYCACHE", "1") != "0":
        # Workers are short-lived interpreters: without bytecode caches each one compiles the sources of
        # every module it imports (on the H100 host, whose environment sets PYTHONDONTWRITEBYTECODE, ~6 s
        # of a candidate's first call went to compiling torch._dynamo and sympy). Their bytecode goes to
        # our own cache folder instead, never beside the sources. DRT_WORKER_PYCACHE=0 turns this off.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        cache = Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "drtriton" / "pycache"
        env.setdefault("PYTHONPYCACHEPREFIX", str(cache))
    if device == "cpu":
        env["TRITON_INTERPRET"] = "1"  # Triton kernels on CPU tensors run in the interpreter
    else:
        env.pop("TRITON_INTERPRET", None)
        # Several workers share one GPU and each one's caching allocator keeps what it freed: with
        # expandable segments (and the workers' empty_cache after big phases) freed memory goes back.
        env.setdefault("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True")
    return env


class ForkedProcess:
    """The subset of subprocess.Popen that WorkerProcess uses, for a worker forked by the zygote."""

    def __init__(self, zygote: "ZygoteClient", pid: int, stdin_w: int, stdout_r: int) -> None:
        self._zygote = zygote
        self.pid = pid
        self.stdin = os.fdopen(stdin_w, "wb")
        self.stdout = os.fdopen(stdout_r, "rb", buffering=0)
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._zygote.exit_code(self.pid)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        code = self._zygote.wait_exit(self.pid, timeout)
        if code is None:
            raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout)
        self.returncode = code
        return code


class ZygoteClient:
    """Starts `python -m drtriton.verify.zygote` and asks it for fresh workers (see zygote.py)."""

    def __init__(self, device: str) -> None:
        import socket
        import threading

        self._sock, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = worker_env(device)
        env["DRT_ZYGOTE_FD"] = str(child_end.fileno())
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "drtriton.verify.zygote"],
            stdin=subprocess.DEVNULL,
            env=env,
            pass_fds=[child_end.fileno()],
            start_new_session=True,
        )
        child_end.close()
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._spawned: dict[int, int] = {}
        self._exits: dict[int, int] = {}
        self._next_id = 0
        self._ready = False
        self._dead = False
        self._reader = threading.Thread(target=self._read_loop, name="drt-zygote-reader", daemon=True)
        self._reader.start()

    def _read_loop(self) -> None:
        while True:
            try:
                data = self._sock.recv(1 << 16)
            except OSError:
                data = b""
            with self._cond:
                if not data:
                    self._dead = True
                    self._cond.notify_all()
                    return
                msg = json.loads(data)
                kind = msg.get("kind")
                if kind == "ready":
                    self._ready = True
                elif kind == "spawned":
                    self._spawned[msg["id"]] = msg["pid"]
                elif kind == "exit":
                    self._exits[msg["pid"]] = os.waitstatus_to_exitcode(msg["status"])
                self._cond.notify_all()

    def alive(self) -> bool:
        return not self._dead and self.proc.poll() is None

    def spawn(self, settings: dict, capture_fd: int, timeout: float = 120.0) -> ForkedProcess:
        """A fresh worker with `settings` (DRT_WORKER); raises WorkerCrash if the zygote cannot."""
        import socket

        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        try:
            with self._cond:
                if not self._cond.wait_for(lambda: self._ready or self._dead, timeout):
                    raise WorkerCrash(f"verifier zygote did not start within {timeout:g} s")
                if self._dead:
                    raise WorkerCrash("verifier zygote is not running")
                request_id = self._next_id
                self._next_id += 1
                msg = json.dumps({"op": "spawn", "id": request_id, "settings": settings}).encode()
                socket.send_fds(self._sock, [msg], [in_r, out_w, capture_fd])
                if not self._cond.wait_for(lambda: request_id in self._spawned or self._dead, timeout):
                    raise WorkerCrash("verifier zygote did not fork a worker in time")
                if self._dead:
                    raise WorkerCrash("verifier zygote died while forking a worker")
                pid = self._spawned.pop(request_id)
        except BaseException:
            for fd in (in_w, out_r):
                os.close(fd)
            raise
        finally:
            for fd in (in_r, out_w):
                os.close(fd)
        return ForkedProcess(self, pid, in_w, out_r)

    def exit_code(self, pid: int) -> int | None:
        with self._lock:
            if pid in self._exits:
                return self._exits[pid]
            dead = self._dead
        if dead:  # nobody reaps it any more: gone means gone, with an unknown code
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return -signal.SIGKILL
        return None

    def wait_exit(self, pid: int, timeout: float | None) -> int | None:
        with self._cond:
            self._cond.wait_for(lambda: pid in self._exits or self._dead, timeout)
        return self.exit_code(pid)

    def forget(self, pid: int) -> None:
        with self._lock:
            self._exits.pop(pid, None)

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass
        _kill_session(self.proc)


def _kill_session(proc) -> None:
    """SIGKILL to a process's whole session (it and anything it forked), then reap it (10 s at most)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


class WorkerProcess:
    def __init__(
        self,
        device: str,
        memory_mb: int,
        cpu_s: int,
        output_cap_mb: int,
        tmpdir: str,
        zygote: ZygoteClient | None = None,
        reuse: bool = False,
    ) -> None:
        self.device = device
        self.memory_mb = memory_mb
        self.uses = 0  # candidates this worker served (the pool's reuse; verify/reuse.py)
        settings = {
            "reuse": reuse,  # snapshot the process state once warm, and say after each candidate if it held
            "memory_mb": memory_mb,
            "cpu_s": cpu_s,
            "output_cap_mb": output_cap_mb,
            "limit_address_space": device == "cpu",
            "device": device,
            # GPU work shares this file lock with timing, which takes it alone (gpu_quiet.py); one per
            # pool and GPU, beside the pool's candidate files.
            "gpu_lock": None if device == "cpu" else os.path.join(tmpdir, "gpu-" + device.replace(":", "-")),
        }
        fd, self.capture_path = tempfile.mkstemp(prefix="worker-", suffix=".log", dir=tmpdir)
        self._zygote = zygote
        if zygote is not None:  # a fork of the pre-imported zygote (milliseconds, not seconds)
            try:
                self.proc = zygote.spawn(settings, fd)
            finally:
                os.close(fd)
        else:
            env = worker_env(device)
            env["DRT_WORKER"] = json.dumps(settings)
            with os.fdopen(fd, "wb") as capture:
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", "drtriton.verify.worker"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=capture,
                    env=env,
                    start_new_session=True,
                    close_fds=True,
                )
        self._buf = bytearray()
        self.max_frame_bytes = 0  # the largest frame this worker sent the parent (a memory measure)
        self.in_first_call = False  # the last request is still within its first-call allowance
        self.ready = False
        self.startup_s: dict[str, float] = {}  # the worker's own start-up seconds (its `ready` message)
        self.spawned_at = time.monotonic()

    # ---- reading with a deadline and a memory watchdog ----
    def _fill(self, n: int, deadline: float) -> None:
        fd = self.proc.stdout.fileno()
        while len(self._buf) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerTimeout()
            ready, _, _ = select.select([fd], [], [], min(remaining, 0.25))
            if ready:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    raise WorkerCrash(self._death_reason())
                self._buf += chunk
            else:
                self._check_memory()

    def _take(self, n: int, deadline: float) -> bytes:
        self._fill(n, deadline)
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def _take_blob(self, n: int, deadline: float) -> bytearray:
        """n bytes read straight into their own buffer (one copy: pipe to buffer; the tensor wraps it)."""
        out = bytearray(n)
        view = memoryview(out)
        have = min(n, len(self._buf))
        view[:have] = self._buf[:have]
        del self._buf[:have]
        fd = self.proc.stdout.fileno()
        while have < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerTimeout()
            ready, _, _ = select.select([fd], [], [], min(remaining, 0.25))
            if ready:
                got = os.readv(fd, [view[have:]])
                if not got:
                    raise WorkerCrash(self._death_reason())
                have += got
            else:
                self._check_memory()
        return out

    def _check_memory(self) -> None:
        if _rss_mb(self.proc.pid) > self.memory_mb:
            self.kill()
            raise WorkerCrash(
                f"worker exceeded the memory cap of {self.memory_mb} MB (resident set) and was killed"
            )

    def _read_frame(self, deadline: float, max_bytes: int):
        import struct

        (hlen,) = struct.unpack("<I", self._take(4, deadline))
        if hlen > max_bytes:
            raise WorkerCrash(f"worker sent a {hlen}-byte header (limit {max_bytes})")
        header = self._take(hlen, deadline)
        (nblobs,) = struct.unpack("<I", self._take(4, deadline))
        blobs, total = [], hlen
        for _ in range(nblobs):
            (blen,) = struct.unpack("<Q", self._take(8, deadline))
            total += blen
            if total > max_bytes:
                raise WorkerCrash(f"worker reply exceeds {max_bytes} bytes")
            blobs.append(self._take_blob(blen, deadline))
        self.max_frame_bytes = max(self.max_frame_bytes, total)
        try:
            return decode_parts(header, blobs)
        except ProtocolError as exc:
            raise WorkerCrash(str(exc)) from None

    def _send(self, obj) -> None:
        try:
            write_parts(self.proc.stdin.write, encode_parts(obj))  # weights sent from views, not joined
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):  # ValueError: our end already closed (killed worker)
            raise WorkerCrash(self._death_reason()) from None

    def wait_ready(self, timeout: float) -> None:
        if self.ready:
            return
        msg = self._read_frame(time.monotonic() + timeout, 1 << 20)
        if not isinstance(msg, dict) or msg.get("kind") != "ready":
            raise WorkerCrash(f"worker did not start: {self.tail()}")
        self.ready = True
        startup = msg.get("startup_s")
        if isinstance(startup, dict):
            self.startup_s = {str(k): float(v) for k, v in startup.items() if isinstance(v, (int, float))}

    def request(
        self,
        obj: dict,
        timeout: float,
        on_need_gpu=None,
        on_gpu_done=None,
        max_reply_mb: int = 8192,
        first_call_timeout: float | None = None,
        on_message=None,
    ) -> dict:
        """Sends one request; returns the reply. Raises WorkerTimeout or WorkerCrash (worker is then dead).

        Deadlines: with `first_call_timeout`, the work up to the worker's `first_call_done` message
        (import, build, the first call: JIT, autotune, allocation) has that allowance and the rest
        `timeout`; without it, the whole request has `timeout`. `on_need_gpu()` blocks until the GPU
        timing slot is this worker's (the deadline restarts after it); `on_gpu_done()` hands it back as
        soon as the worker says its timing is over. `on_message(msg)` receives the streamed frames
        (`kind` case or result) one at a time, so the parent never holds more than one of them; an
        exception it raises kills the worker and propagates. The reply is the first other frame."""
        self.wait_ready(max(timeout, 300.0))
        self._send(obj)
        deadline = time.monotonic() + (first_call_timeout if first_call_timeout is not None else timeout)
        self.in_first_call = first_call_timeout is not None
        while True:
            try:
                msg = self._read_frame(deadline, max_reply_mb << 20)
            except (WorkerTimeout, WorkerCrash):
                self.kill()
                raise
            if not isinstance(msg, dict):
                self.kill()
                raise WorkerCrash("worker reply is not an object")
            kind = msg.get("kind")
            if kind == "first_call_done":
                if self.in_first_call:
                    self.in_first_call = False
                    deadline = time.monotonic() + timeout
                continue
            if kind == "need_gpu" and on_need_gpu is not None:
                on_need_gpu()  # blocks until this GPU is free; waiting is not the candidate's time
                deadline = time.monotonic() + timeout
                self._send({"kind": "go"})
                continue
            if kind == "gpu_done":
                if on_gpu_done is not None:
                    on_gpu_done()
                continue
            if kind in ("case", "result") and on_message is not None:
                try:
                    on_message(msg)
                except BaseException:
                    self.kill()
                    raise
                if msg.get("needs_ack"):  # the worker keeps the shared outputs until this
                    self._send({"kind": "ack"})
                continue
            return msg

    # ---- death ----
    def _death_reason(self) -> str:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.proc.returncode
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # orphans the candidate forked, if any
        except (ProcessLookupError, PermissionError):
            pass
        if code is not None and code < 0:
            sig = signal.Signals(-code)
            hint = _SIGNAL_HINTS.get(sig, "killed by a signal")
            return f"worker died with {sig.name}: {hint}"
        last = self.tail().strip().splitlines()[-1:] or [""]
        detail = f": {last[0]}" if last[0] else ""
        return f"worker exited with code {code} mid-request (os._exit or a fatal error){detail}"

    def tail(self, n: int = 400) -> str:
        try:
            with open(self.capture_path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - n))
                return fh.read().decode(errors="replace")
        except OSError:
            return ""

    def discard(self) -> None:
        """Kills a worker that will not be reused (a candidate's): no graceful exit to wait for."""
        self.kill()
        self._forget()
        try:
            os.unlink(self.capture_path)
        except OSError:
            pass

    def _forget(self) -> None:
        if self._zygote is not None:
            self._zygote.forget(self.proc.pid)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.returncode is None:
            _kill_session(self.proc)  # the session: forked children die too
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass

    def close(self) -> None:
        if self.alive():
            try:
                self._send({"op": "exit"})
                self.proc.wait(timeout=2)
            except (WorkerCrash, subprocess.TimeoutExpired):
                pass
        self.kill()
        self._forget()
        try:
            os.unlink(self.capture_path)
        except OSError:
            pass
