"""Zygote: one process that imports torch and triton once, then forks a fresh worker per request.

    python -m drtriton.verify.zygote      # started by ZygoteClient only (verify/process.py uses it)

Starting `python -m drtriton.verify.worker` costs an interpreter start and the torch + triton imports
(seconds of CPU) for every candidate. A fork of a process that has done the imports costs milliseconds,
and each candidate still runs in its own fresh process: the child is a copy, so nothing a candidate
does reaches the zygote or the next candidate. The zygote never initialises CUDA (a CUDA context does
not survive fork); children create their own.

Control channel: an AF_UNIX SOCK_SEQPACKET socket (fd in DRT_ZYGOTE_FD), one JSON message per packet.
  parent -> zygote: {"op": "spawn", "id": n, "settings": {...}} with 3 fds attached (the worker's
                    stdin, stdout and stderr capture file)
  zygote -> parent: {"kind": "ready"}, {"kind": "spawned", "id": n, "pid": p},
                    {"kind": "exit", "pid": p, "status": waitpid status}
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys

_MAX_MSG = 1 << 16


def _child(sock: socket.socket, fds: list[int], settings: dict, cpus: set[int]) -> None:
    """In the forked child: become a worker with the given stdio. Never returns."""
    code = 1
    try:
        os.setsid()  # own session: the parent kills the worker with killpg
        # The CPUs the zygote started with: a runtime initialised in the zygote (OpenMP under
        # OMP_PROC_BIND, say) may have pinned its main thread, and every fork would inherit that pin.
        os.sched_setaffinity(0, cpus)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        sock.close()
        for fd in fds:
            if fd > 2:
                os.close(fd)
        os.environ["DRT_WORKER"] = json.dumps(settings)
        from drtriton.verify import worker

        code = worker.main()
    except BaseException:  # noqa: BLE001 - a child must never fall back into the zygote's loop
        import traceback

        traceback.print_exc()
    finally:
        os._exit(code or 0)


def _reap(sock: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        sock.send(json.dumps({"kind": "exit", "pid": pid, "status": status}).encode())


def main() -> int:
    sock = socket.socket(fileno=int(os.environ["DRT_ZYGOTE_FD"]))
    cpus = os.sched_getaffinity(0)  # before any import can pin this thread (see _child)
    # The imports every worker needs, done once. Nothing here may start threads or touch CUDA.
    import torch  # noqa: F401
    import triton  # noqa: F401
    import triton.language  # noqa: F401

    from drtriton.verify import protocol, sandbox, warmup, worker  # noqa: F401

    warmup.warm_op_log()  # its lazy imports once here, not in every forked worker's first candidate call
    # Not Inductor: importing torch._inductor on a GPU host initialises CUDA and starts threads, and a
    # CUDA context does not survive fork (measured: every forked reference then failed).

    sock.send(json.dumps({"kind": "ready", "pid": os.getpid()}).encode())
    while True:
        ready, _, _ = select.select([sock], [], [], 0.2)
        _reap(sock)
        if not ready:
            continue
        try:
            data, fds, _, _ = socket.recv_fds(sock, _MAX_MSG, 3)
        except OSError:
            return 0
        if not data:
            return 0  # the parent closed the channel
        msg = json.loads(data)
        if msg.get("op") != "spawn" or len(fds) != 3:
            for fd in fds:
                os.close(fd)
            continue
        pid = os.fork()
        if pid == 0:
            _child(sock, fds, msg["settings"], cpus)
        for fd in fds:
            os.close(fd)
        sock.send(json.dumps({"kind": "spawned", "id": msg["id"], "pid": pid}).encode())


if __name__ == "__main__":
    sys.exit(main())
