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

import time
import traceback
from dataclasses import asdict, dataclass
from typing import Any

from drtriton.util.child import ChildServer, serve_requests
from drtriton.util.gpu import release_gpu_memory


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


class Judge:
    """Accumulates the reference outputs of successive seeds without holding them all.

    KernelBench outputs reach gigabytes, so per output only its running min and max (for near_constant)
    and the first seed's tensor (for input_insensitive) are kept, on the device they were computed on.
    """

    def __init__(self, atol: float, rtol: float) -> None:
        self.atol, self.rtol = atol, rtol
        self.first: list[Any] | None = None
        self.lo: list[float] = []
        self.hi: list[float] = []
        self.seeds = 0
        self.nonfinite = False
        self.all_same = True  # every later seed's outputs matched the first seed's

    def add(self, outputs: list[Any]) -> None:
        import torch

        outs = [t.detach() for t in outputs]
        outs = [t if t.is_floating_point() else t.to(torch.float64) for t in outs]
        for t in outs:
            if t.numel() and not bool(torch.isfinite(t).all()):
                self.nonfinite = True
        if self.first is None:
            self.first = outs
            self.lo = [float(t.min()) if t.numel() else 0.0 for t in outs]
            self.hi = [float(t.max()) if t.numel() else 0.0 for t in outs]
        else:
            for i, t in enumerate(outs):
                if t.numel():
                    self.lo[i], self.hi[i] = min(self.lo[i], float(t.min())), max(self.hi[i], float(t.max()))
            self.all_same = self.all_same and len(outs) == len(self.first) and all(
                a.shape == b.shape and _allclose_chunked(a, b, self.atol, self.rtol)
                for a, b in zip(outs, self.first))
        self.seeds += 1

    def result(self, inputs_differ: bool) -> ReferenceCheck:
        if self.nonfinite:
            return ReferenceCheck(True, "nonfinite", "reference output contains NaN/Inf")
        # The best single constant a cheat could write is the midpoint; it passes iff every value is
        # within atol + rtol*|fill| of it, i.e. half the spread is.
        constant = all((hi - lo) / 2 <= self.atol + self.rtol * abs((hi + lo) / 2)
                       for lo, hi in zip(self.lo, self.hi))
        if constant and self.first is not None:
            spread = max((hi - lo for lo, hi in zip(self.lo, self.hi)), default=0.0)
            return ReferenceCheck(True, "near_constant",
                                  f"reference output is one constant within tolerance (spread {spread:.3g}) "
                                  f"for every seed")
        if not inputs_differ:
            return ReferenceCheck(False, None, "get_inputs gave identical inputs for every seed; "
                                               "input sensitivity untested")
        if self.all_same and self.seeds > 1:
            return ReferenceCheck(True, "input_insensitive",
                                  f"reference output is the same for {self.seeds} different inputs")
        return ReferenceCheck(False)


ALLCLOSE_CHUNK = 1 << 26  # elements compared at a time: allclose's temporaries stay ~1 GB, not 4x the output


def _allclose_chunked(a: Any, b: Any, atol: float, rtol: float) -> bool:
    """torch.allclose(a, b) over flat chunks: KernelBench outputs reach 8 GB, and one allclose of that size
    needs several output-sized temporaries (which starved the verifier's workers on the same GPU)."""
    import torch

    fa, fb = a.reshape(-1), b.reshape(-1)
    return all(torch.allclose(fa[i:i + ALLCLOSE_CHUNK].to(fb.dtype), fb[i:i + ALLCLOSE_CHUNK], atol=atol, rtol=rtol)
               for i in range(0, fa.numel(), ALLCLOSE_CHUNK))


def judge(outputs: list[list[Any]], inputs_differ: bool, atol: float, rtol: float) -> ReferenceCheck:
    """Decides from the reference outputs of several seeds (outputs[seed] = list of tensors)."""
    j = Judge(atol, rtol)
    for seed in outputs:
        j.add(seed)
    return j.result(inputs_differ)


# ---- child process ----


def _as_tensors(out: Any) -> list[Any]:
    import torch

    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _as_tensors(o)]
    return [torch.as_tensor(out)]


def _fingerprint(x: Any) -> tuple:
    """A cheap summary that tells two input draws apart without keeping them (inputs reach gigabytes)."""
    import torch

    if not isinstance(x, torch.Tensor):
        return ("value", repr(x))
    flat = x.detach().reshape(-1)
    head = flat[:4096].to("cpu", torch.float64).tolist()
    total = float(flat.sum(dtype=torch.float64)) if flat.numel() else 0.0  # no float64 copy of the input
    return (tuple(x.shape), str(x.dtype), total, tuple(head))


def _check_in_child(source: str, config: DegenerateConfig) -> dict:
    import torch

    from drtriton.verify.worker import draw_inputs  # on the GPU there, as the verifier draws

    device = ("cuda" if torch.cuda.is_available() else "cpu") if config.device == "auto" else config.device
    namespace: dict[str, Any] = {"__name__": "kernelbench_problem"}
    exec(compile(source, "<problem>", "exec"), namespace)  # noqa: S102 - the user's own problem file
    torch.manual_seed(0)
    # No .eval(): KernelBench and our verifier call the model as built (training mode), so BatchNorm uses
    # batch statistics here too; judging another function than the one verified would be wrong.
    model = namespace["Model"](*namespace["get_init_inputs"]()).to(device)
    j = Judge(config.atol, config.rtol)
    prints = []
    with torch.no_grad():
        for seed in range(config.seeds):
            inputs = [x.to(device) if isinstance(x, torch.Tensor) else x
                      for x in draw_inputs(namespace["get_inputs"], 1000 + seed, device)]
            prints.append([_fingerprint(x) for x in inputs])
            j.add(_as_tensors(model(*inputs)))
            del inputs
    inputs_differ = any(other != prints[0] for other in prints[1:])
    result = j.result(inputs_differ).to_json()
    del model, j
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return result


def _serve(conn: Any) -> None:
    def describe(exc: BaseException) -> str:  # any failure of the user's reference becomes a reason
        last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
        where = f" at line {last[0].lineno}" if last and last[0].filename == "<problem>" else ""
        return f"{type(exc).__name__}{where}: {str(exc).splitlines()[0] if str(exc) else ''}"

    serve_requests(conn, _check_releasing, describe)


def _check_releasing(message: Any) -> dict:
    """_check_in_child(*message); when it raises, its tensors are freed before the error is reported."""
    try:
        return _check_in_child(*message)
    except BaseException as exc:
        # The traceback's frames hold the failed check's tensors (an out-of-memory reference holds tens of
        # GB): clear them (line numbers stay for `describe`) and hand the memory back, or this idle child
        # starves every verifier worker on the GPU for the rest of the run.
        traceback.clear_frames(exc.__traceback__)
        release_gpu_memory()
        raise


class ReferenceChecker:
    """Runs `check` in one spawned child process; use as a context manager so the child always ends."""

    def __init__(self, config: DegenerateConfig | None = None) -> None:
        self.config = config or DegenerateConfig()
        self._server = ChildServer(_serve, "drtriton-refcheck")

    def check(self, source: str) -> ReferenceCheck:
        """The verdict on one problem's reference; never raises for a broken problem (reason says why)."""
        start = time.perf_counter()
        kind, payload = self._server.call((source, self.config), self.config.timeout_s)
        seconds = time.perf_counter() - start
        if kind == "timeout":
            return ReferenceCheck(None, None, f"reference check timed out after {self.config.timeout_s:g}s",
                                  seconds)
        if kind == "died":
            return ReferenceCheck(None, None, f"reference process died (exit code {payload})", seconds)
        if kind == "error":
            return ReferenceCheck(None, None, f"reference failed: {payload}", seconds)
        return ReferenceCheck(**{**payload, "seconds": seconds})

    def close(self) -> None:
        self._server.close()

    def __enter__(self) -> "ReferenceChecker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
