"""KernelBench coverage: does the importer + rule-based code generator turn each problem into a ModelNew?

    from drtriton.bench.coverage import CoverageChecker
    with CoverageChecker(policy="mixed") as checker:
        row = checker.check(problem)            # CoverageRow(outcome="ok" | a failure stage, reason, ...)

Import and code generation only: no kernel runs. Shapes come from the meta device (Model and get_inputs()
are built under `torch.device("meta")`, so a 4096x4096 matmul costs no memory and no FLOPs); a problem
whose forward cannot run on meta tensors is retried on real tensors when they are small
(`real_retry_elements`), else reported as `meta_unsupported`. Each problem runs in one reused child process
(respawned after a crash or a timeout), never in the caller.

Outcomes: ok | load_error | build_error | non_tensor_input | trace_error | unsupported_op | emit_error |
meta_unsupported | timeout | crash. `unsupported` lists every (operator, why) the importer could not map.
"""

from __future__ import annotations

import contextlib
import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Any, Self

from drtriton.util.child import ChildServer, serve_requests

COVERAGE_VERSION = 3  # bump when classification changes; saved rows of another version are recomputed
OUTCOMES = ("ok", "load_error", "build_error", "non_tensor_input", "trace_error", "unsupported_op",
            "emit_error", "meta_unsupported", "timeout", "crash")


@dataclass(frozen=True, slots=True)
class CoverageRow:
    """What the code generator made of one problem (no kernel was run)."""

    problem: str  # "level1/19_ReLU"
    outcome: str  # one of OUTCOMES
    reason: str = ""  # one line: the stage's own message
    unsupported: list[dict] = field(default_factory=list)  # [{"target", "why"}] from the importer
    kernels: int | None = None  # Triton kernels in the ModelNew (None unless ok)
    library_calls: list[list[str]] = field(default_factory=list)  # operators left to PyTorch library calls
    shapes: str | None = None  # "meta" or "real": how the importer's shapes were obtained
    seconds: float | None = None

    def to_json(self) -> dict:
        return asdict(self)


# ---- inside the child process ----


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"[:400]


def _input_elements(problem_src: str) -> int | None:
    """Elements of get_inputs() (on the meta device) plus the model's parameters (when the model builds on
    meta); None when even the inputs cannot be built there."""
    import torch

    namespace: dict[str, Any] = {"__name__": "drtriton_coverage"}
    try:
        exec(compile(problem_src, "<problem>", "exec"), namespace)  # noqa: S102 - the user's own problem file
        with torch.device("meta"):
            inputs = namespace["get_inputs"]()
    except Exception:  # noqa: BLE001 - the size is unknown
        return None
    total = sum(x.numel() for x in inputs if isinstance(x, torch.Tensor))
    # a model that needs real values at construction (x.item()) leaves its parameters uncounted
    with contextlib.suppress(Exception):
        with torch.device("meta"):
            model = namespace["Model"](*namespace["get_init_inputs"]())
        total += sum(p.numel() for p in model.parameters())
    return total


def _classify(key: str, problem_src: str, policy: str, real_retry_elements: int) -> CoverageRow:
    from drtriton.frontend import CompileConfig, compile_problem, importer
    from drtriton.search.meta import _meta_load
    from drtriton.util.errors import UsageError

    start = time.perf_counter()
    orig_load = importer._load
    shapes = "meta"
    program = None
    meta_error = ""
    try:
        importer._load = _meta_load(orig_load)
        program = importer.import_program(problem_src)
    except UsageError as exc:
        if "meta" not in str(exc):  # not the meta device's fault: the problem's own error
            return _usage_row(key, str(exc), "meta", start)
        meta_error = str(exc).splitlines()[0][:200]
    except ImportError as exc:  # the problem file imports a package this machine lacks (einops)
        return CoverageRow(key, "load_error", _first_line(exc), shapes="meta", seconds=time.perf_counter() - start)
    except Exception as exc:  # noqa: BLE001 - an operator without a meta kernel, or a .item() on meta
        meta_error = _first_line(exc)
    finally:
        importer._load = orig_load
    if program is None:
        elements = _input_elements(problem_src)
        if elements is None or elements > real_retry_elements:
            size = "unknown size" if elements is None else f"{elements:,} elements"
            return CoverageRow(key, "meta_unsupported", f"fails on meta tensors ({meta_error}) and real inputs "
                               f"are too large to retry ({size})", shapes="meta",
                               seconds=time.perf_counter() - start)
        shapes = "real"
        try:
            program = importer.import_program(problem_src)
        except UsageError as exc:
            return _usage_row(key, str(exc), shapes, start)
        except Exception as exc:  # noqa: BLE001 - the user's forward fails on its own inputs
            return CoverageRow(key, "build_error", f"forward raised {_first_line(exc)}", shapes=shapes,
                               seconds=time.perf_counter() - start)
    unsupported = [{"target": u.target, "why": u.why} for u in program.unsupported]
    if unsupported:
        return CoverageRow(key, "unsupported_op", "; ".join(f"{u['target']}: {u['why']}" for u in unsupported)[:400],
                           unsupported, shapes=shapes, seconds=time.perf_counter() - start)
    # compile_problem imports again; on real shapes that repeats the forward, on meta it is cheap
    orig = importer._load
    if shapes == "meta":
        importer._load = _meta_load(orig)
    try:
        result = compile_problem(problem_src, CompileConfig(policy=policy))
    except UsageError as exc:
        return CoverageRow(key, "emit_error", str(exc).splitlines()[0][:400], shapes=shapes,
                           seconds=time.perf_counter() - start)
    except Exception as exc:  # noqa: BLE001 - an emitter bug is still this problem's result
        return CoverageRow(key, "emit_error", f"emitter raised {_first_line(exc)}", shapes=shapes,
                           seconds=time.perf_counter() - start)
    finally:
        importer._load = orig
    try:
        compile(result.source, "<ModelNew>", "exec")
    except SyntaxError as exc:
        return CoverageRow(key, "emit_error", f"generated ModelNew does not parse: {exc.msg} at line {exc.lineno}",
                           shapes=shapes, seconds=time.perf_counter() - start)
    if "class ModelNew" not in result.source:
        return CoverageRow(key, "emit_error", "generated source defines no ModelNew", shapes=shapes,
                           seconds=time.perf_counter() - start)
    return CoverageRow(key, "ok", "", kernels=len(result.report.get("kernels", [])),
                       library_calls=[list(c) if isinstance(c, (list, tuple)) else [str(c)]
                                      for c in result.report.get("library_calls", [])],
                       shapes=shapes, seconds=time.perf_counter() - start)


def _usage_row(key: str, message: str, shapes: str, start: float) -> CoverageRow:
    """Maps the importer's usage errors to an outcome by the stage its message names."""
    line = message.splitlines()[0][:400] if message else ""
    if "does not parse" in line or "defines no `" in line:
        outcome = "load_error"
    elif "building Model" in line:
        outcome = "build_error"
    elif "not a tensor" in line and "forward argument" in line:
        outcome = "non_tensor_input"
    elif "torch.fx cannot trace" in line:
        outcome = "trace_error"
    else:
        outcome = "emit_error"
    return CoverageRow(key, outcome, line, shapes=shapes, seconds=time.perf_counter() - start)


def _serve(conn: Any) -> None:
    import os

    os.environ.setdefault("TRITON_INTERPRET", "1")  # nothing runs, but importing triton must not need a GPU

    def describe(exc: BaseException) -> str:  # whatever happens is this problem's row
        last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
        where = f" ({last[0].filename}:{last[0].lineno})" if last else ""
        return f"{_first_line(exc)}{where}"

    serve_requests(conn, lambda m: _classify(*m).to_json(), describe)


class CoverageChecker:
    """Classifies problems in one spawned child process; a context manager so the child always ends.

    Args:
        policy: the code generator's policy (mixed: conv/matmul may stay library calls).
        timeout_s: per problem; a problem past it is a `timeout` row and the child is respawned.
        real_retry_elements: retry on real tensors when the meta run fails and inputs + parameters hold
            at most this many elements (the default is 64 MiB of fp32: fast on any CPU).
    """

    def __init__(self, policy: str = "mixed", timeout_s: float = 120.0, real_retry_elements: int = 1 << 24):
        self.policy, self.timeout_s, self.real_retry_elements = policy, timeout_s, real_retry_elements
        self._server = ChildServer(_serve, "drtriton-coverage")

    def check(self, key: str, source: str) -> CoverageRow:
        """The row for one problem's source; never raises for a broken problem (the row says why)."""
        start = time.perf_counter()
        kind, payload = self._server.call((key, source, self.policy, self.real_retry_elements), self.timeout_s)
        seconds = time.perf_counter() - start
        if kind == "timeout":
            return CoverageRow(key, "timeout", f"import + compile took over {self.timeout_s:g}s", seconds=seconds)
        if kind == "died":
            return CoverageRow(key, "crash", f"child process died (exit code {payload})", seconds=seconds)
        if kind == "error":
            return CoverageRow(key, "crash", f"coverage harness raised {payload}", seconds=seconds)
        return CoverageRow(**payload)

    def close(self) -> None:
        self._server.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_CASCADE = ("operand ",)  # a node whose input was itself unmapped: a consequence, not a cause


def root_causes(row: CoverageRow) -> list[str]:
    """The distinct unmapped operations of a row that are causes (not downstream of another unmapped one),
    each as "<call>: <why>" for unmapped calls, else the importer's reason alone."""
    out: list[str] = []
    for u in row.unsupported:
        why = u["why"]
        if why.startswith(_CASCADE):
            continue
        target = u["target"].replace("_VariableFunctionsClass.", "torch.")
        # a call with no mapping is named by its target; any other reason names the operation itself (a
        # module's target is only its attribute path, e.g. "layers.0.bn")
        item = f"{target}: {why}" if why == "no mapping to a registry operator" else why
        if item not in out:
            out.append(item)
    return out


def reason_key(row: CoverageRow) -> str:
    """A short grouping key for a failure: the outcome plus its first root cause (or the message's head)."""
    if row.outcome == "ok":
        return "ok"
    if row.outcome == "unsupported_op":
        causes = root_causes(row)
        return f"unsupported_op: {causes[0][:110]}" if causes else f"unsupported_op: {row.reason[:90]}"
    head = row.reason.split(";")[0][:110]
    if row.outcome == "emit_error" and head.startswith("node "):
        head = head.split(": ", 1)[-1]  # "node 4 (group_norm): ..." -> the emitter's own words
    return f"{row.outcome}: {head}"
