"""ChildServer: one spawned child process answering requests over a Pipe, replaced after a hang or death.

    server = ChildServer(_serve, "drtriton-refcheck")   # _serve(conn) loops: recv a request, send a reply
    kind, payload = server.call(request, timeout_s)     # ("timeout", None), ("died", exit code) or the reply
    server.close()

The child's target calls `serve_requests(conn, handle, describe_error)`. The child is started with the "spawn" method (no state inherited from the caller) on first use and
after it timed out or died, so one bad request costs one process, not the caller.
"""

from __future__ import annotations

import multiprocessing as mp
from typing import Any, Callable


class ChildServer:
    def __init__(self, target: Callable[[Any], None], name: str) -> None:
        self.target, self.name = target, name
        self._proc: Any = None
        self._conn: Any = None

    def _start(self) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=self.target, args=(child,), daemon=True, name=self.name)
        self._proc.start()
        child.close()

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join(5)
        self._proc = self._conn = None

    def call(self, request: Any, timeout_s: float) -> tuple[str, Any]:
        """The child's (kind, payload) reply; ("timeout", None) or ("died", exit code) after killing it."""
        if self._proc is None or not self._proc.is_alive():
            self._start()
        self._conn.send(request)
        if not self._conn.poll(timeout_s):
            self._kill()
            return "timeout", None
        try:
            return self._conn.recv()
        except EOFError:
            self._proc.join(5)
            code = self._proc.exitcode
            self._kill()
            return "died", code

    def close(self) -> None:
        """Asks the child to stop (a None request), then kills it if it has not."""
        if self._proc is not None and self._proc.is_alive():
            try:
                self._conn.send(None)
                self._proc.join(10)
            except (BrokenPipeError, OSError):
                pass
        self._kill()


def serve_requests(conn: Any, handle: Callable[[Any], Any], describe_error: Callable[[BaseException], str]) -> None:
    """The child's loop: answer each request with ("ok", handle(request)), or ("error", describe_error(exc))
    for anything it raises; a None request or a closed pipe ends the loop."""
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        try:
            conn.send(("ok", handle(message)))
        except BaseException as exc:  # noqa: BLE001 - whatever happens is this request's answer
            conn.send(("error", describe_error(exc)))
