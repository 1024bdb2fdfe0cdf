"""Flag problems whose reference output is degenerate, so a benchmark reports them apart (never drops them).

    with ReferenceChecker(DegenerateConfig()) as checker:
        check = checker.check(problem_source)      # ReferenceCheck(degenerate=True, kind="near_constant", …)

The reference runs in a child process (spawned, one reused for every problem, respawned after a crash or
timeout), never in the caller. The definition is operational, at the verifier's tolerance:
  - near_constant: one constant tensor would pass the comparison for every seed (a kernel that writes a
    fill value is "correct");
  - input_insensitive: the outputs for different inputs agree with each other (a kernel that ignores its
    inputs is "correct");
  - nonfinite: the reference itself yields NaN/Inf, so no comparison means anything.
Covered: Model/get_inputs/get_init_inputs problems with tensor or tuple-of-tensor outputs. Not covered:
outputs that are insensitive to only some of several inputs (we perturb all inputs at once).
"""

from __future__ import annotations

import multiprocessing as mp
import time
import traceback
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class DegenerateConfig:
    seeds: int = 3  # distinct input draws; 3 separates "same for all inputs" from chance agreement
    atol: float = 1e-4  # the verifier's fp32 tolerance: degenerate means a cheat would pass at it
    rtol: float = 1e-4
    timeout_s: float = 300.0  # per problem, including model construction (level-3 models are large)
    device: str = "auto"  # "auto": cuda when available, else cpu

    def __post_init__(self) -> None:
        from drtriton.util.errors import UsageError

        if self.seeds < 2:
            raise UsageError(f"DegenerateConfig.seeds must be >= 2 to compare inputs, got {self.seeds}")
        if self.timeout_s <= 0:
            raise UsageError(f"DegenerateConfig.timeout_s must be positive, got {self.timeout_s}")


@dataclass(frozen=True, slots=True)
class ReferenceCheck:
    degenerate: bool | None  # None: the check could not run (reason says why)
    kind: str | None = None  # near_constant | input_insensitive | nonfinite
    reason: str = ""
    seconds: float | None = None

    def to_json(self) -> dict:
        return asdict(self)


# ---- pure judgement over computed outputs (unit-tested without a child process) ----


def judge(outputs: list[list[Any]], inputs_differ: bool, atol: float, rtol: float) -> ReferenceCheck:
    """Decides from the reference outputs of several seeds (outputs[seed] = list of tensors)."""
    import torch

    flat = [[t.detach().to("cpu", torch.float64).reshape(-1) for t in seed] for seed in outputs]
    for seed in flat:
        for t in seed:
            if not torch.isfinite(t).all():
                return ReferenceCheck(True, "nonfinite", "reference output contains NaN/Inf")
    for i in range(len(flat[0])):
        values = torch.cat([seed[i] for seed in flat])
        if values.numel() == 0:
            continue
        fill = (values.max() + values.min()) / 2  # the best single constant a cheat could write
        if not torch.all((values - fill).abs() <= atol + rtol * fill.abs()):
            break
    else:
        columns = [torch.cat([seed[i] for seed in flat]) for i in range(len(flat[0]))]
        spread = max((float(c.max() - c.min()) for c in columns if c.numel()), default=0.0)
        return ReferenceCheck(True, "near_constant",
                              f"reference output is one constant within tolerance (spread {spread:.3g}) "
                              f"for every seed")
    if not inputs_differ:
        return ReferenceCheck(False, None, "get_inputs gave identical inputs for every seed; "
                                           "input sensitivity untested")
    first = flat[0]
    same = all(
        s[i].shape == first[i].shape and torch.allclose(s[i], first[i], atol=atol, rtol=rtol)
        for s in flat[1:] for i in range(len(first)))
    if same:
        return ReferenceCheck(True, "input_insensitive",
                              f"reference output is the same for {len(flat)} different inputs")
    return ReferenceCheck(False)


# ---- child process ----


def _as_tensors(out: Any) -> list[Any]:
    import torch

    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _as_tensors(o)]
    return [torch.as_tensor(out)]


def _check_in_child(source: str, config: DegenerateConfig) -> dict:
    import torch

    device = ("cuda" if torch.cuda.is_available() else "cpu") if config.device == "auto" else config.device
    namespace: dict[str, Any] = {"__name__": "kernelbench_problem"}
    exec(compile(source, "<problem>", "exec"), namespace)  # noqa: S102 - the user's own problem file
    torch.manual_seed(0)
    model = namespace["Model"](*namespace["get_init_inputs"]()).to(device).eval()
    outputs, inputs_seen = [], []
    with torch.no_grad():
        for seed in range(config.seeds):
            torch.manual_seed(1000 + seed)
            inputs = [x.to(device) if isinstance(x, torch.Tensor) else x for x in namespace["get_inputs"]()]
            inputs_seen.append([x.detach().cpu() for x in inputs if isinstance(x, torch.Tensor)])
            outputs.append([t.detach().cpu() for t in _as_tensors(model(*inputs))])
    inputs_differ = any(
        not (a.shape == b.shape and torch.equal(a, b)) for other in inputs_seen[1:]
        for a, b in zip(inputs_seen[0], other))
    del model
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return judge(outputs, inputs_differ, config.atol, config.rtol).to_json()


def _serve(conn: Any) -> None:
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        source, config = message
        try:
            conn.send(("ok", _check_in_child(source, config)))
        except BaseException as exc:  # noqa: BLE001 - any failure of the user's reference becomes a reason
            last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
            where = f" at line {last[0].lineno}" if last and last[0].filename == "<problem>" else ""
            conn.send(("error", f"{type(exc).__name__}{where}: "
                                f"{str(exc).splitlines()[0] if str(exc) else ''}"))


class ReferenceChecker:
    """Runs `check` in one spawned child process; use as a context manager so the child always ends."""

    def __init__(self, config: DegenerateConfig | None = None) -> None:
        self.config = config or DegenerateConfig()
        self._proc: Any = None
        self._conn: Any = None

    def _start(self) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child,), daemon=True, name="drtriton-refcheck")
        self._proc.start()
        child.close()

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join(5)
        self._proc = self._conn = None

    def check(self, source: str) -> ReferenceCheck:
        """The verdict on one problem's reference; never raises for a broken problem (reason says why)."""
        if self._proc is None or not self._proc.is_alive():
            self._start()
        start = time.perf_counter()
        self._conn.send((source, self.config))
        if not self._conn.poll(self.config.timeout_s):
            self._kill()
            return ReferenceCheck(None, None, f"reference check timed out after {self.config.timeout_s:g}s",
                                  time.perf_counter() - start)
        try:
            kind, payload = self._conn.recv()
        except EOFError:
            self._proc.join(5)
            code = self._proc.exitcode
            self._kill()
            return ReferenceCheck(None, None, f"reference process died (exit code {code})",
                                  time.perf_counter() - start)
        seconds = time.perf_counter() - start
        if kind == "error":
            return ReferenceCheck(None, None, f"reference failed: {payload}", seconds)
        return ReferenceCheck(**{**payload, "seconds": seconds})

    def close(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            try:
                self._conn.send(None)
                self._proc.join(10)
            except (BrokenPipeError, OSError):
                pass
        self._kill()

    def __enter__(self) -> "ReferenceChecker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
