"""The verifier's result types: Status, Timing and Verdict (plain, frozen, JSON round-trippable).

Every field that was not measured is None; a verdict is never produced by swallowing an exception.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum

from drtriton.util.provenance import Provenance


class Status(StrEnum):
    CORRECT = "correct"
    FORMAT_ERROR = "format_error"  # no ModelNew, wrong signature, unparsable
    COMPILE_ERROR = "compile_error"  # module import or Triton compilation failed
    RUNTIME_ERROR = "runtime_error"  # includes segfault / illegal address / OOM in the worker
    TIMEOUT = "timeout"
    INCORRECT = "incorrect"
    CHEAT_DETECTED = "cheat_detected"


@dataclass(frozen=True, slots=True)
class Timing:
    """GPU timings of one candidate and its baselines, in milliseconds (CUDA events)."""

    candidate_ms: float  # median
    eager_ms: float | None = None  # median of the reference Model, same worker, interleaved
    compile_ms: float | None = None  # median of torch.compile(Model); None when compilation failed
    # Where compile_ms was measured: "problem" (once per problem, in a clean baseline worker, same
    # protocol) or "candidate" (in the candidate's worker, interleaved with it).
    compile_scope: str | None = None
    candidate_samples: tuple[float, ...] = ()
    eager_samples: tuple[float, ...] = ()
    compile_samples: tuple[float, ...] = ()
    host_ms: float | None = None  # host-clock median per call (perf_counter around synchronised calls)
    host_agrees: bool | None = None  # host clock within tolerance of the event clock
    triton_share: float | None = None  # share of GPU kernel time spent in the candidate's Triton kernels
    n_calls: int = 0

    def to_json(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_json(data: dict) -> "Timing":
        kw = dict(data)
        for name in ("candidate_samples", "eager_samples", "compile_samples"):
            kw[name] = tuple(kw.get(name) or ())
        return Timing(**kw)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the verifier concluded about one candidate under one config.

    Every field that was not measured is None. A verdict is never produced by
    swallowing an exception: `reason` always says what happened.
    """

    status: Status
    reason: str = ""  # one actionable line; empty only when CORRECT
    rule: str | None = None  # anti-cheat rule id, e.g. "launch.no_triton_kernel"
    policy: str | None = None  # strict | mixed | hybrid: every result names its policy
    max_abs_err: float | None = None
    max_rel_err: float | None = None
    timing: Timing | None = None  # medians + all samples; None on CPU/interpreter
    speedup_vs_eager: float | None = None
    speedup_vs_compile: float | None = None
    triton_launches: int | None = None  # Triton kernel launches per forward call (min over calls)
    torch_ops: tuple[str, ...] = ()  # aten ops ModelNew.forward ran outside Triton (sorted, unique)
    notes: tuple[str, ...] = ()  # warnings that did not decide the status (degenerate reference, ...)
    config_hash: str | None = None
    cached: bool = False  # True when this verdict came from the cache
    # Worker seconds per phase: load_s (import + build), first_call_s (includes Triton JIT compile),
    # correctness_s, timing_s; and where the candidate waited on something shared: the parent's
    # reference_s, take_worker_s, ready_wait_s, gate_wait_s, gpu_slot_wait_s, judge_s (of it judge_lock_s
    # waiting for the problem's judge worker, over judge_requests requests), baseline_wait_s
    # (and the problem baseline's own baseline_compile_s, baseline_timing_s), the worker's shared_wait_s,
    # quiet_wait_s, quiet_hold_s (GPU lock) and its start-up's worker_context_s,
    # worker_section_s. Empty when the candidate never reached the worker.
    phase_s: dict = field(default_factory=dict)
    provenance: Provenance = field(default_factory=Provenance.here)  # versions, GPU

    @property
    def ok(self) -> bool:
        return self.status is Status.CORRECT

    def to_json(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["status"] = str(self.status)
        out["timing"] = self.timing.to_json() if self.timing is not None else None
        out["torch_ops"] = list(self.torch_ops)
        out["notes"] = list(self.notes)
        out["phase_s"] = dict(self.phase_s)
        out["provenance"] = self.provenance.to_json()
        return out

    @staticmethod
    def from_json(data: dict) -> "Verdict":
        kw = dict(data)
        kw["status"] = Status(kw["status"])
        kw["timing"] = Timing.from_json(kw["timing"]) if kw.get("timing") else None
        kw["torch_ops"] = tuple(kw.get("torch_ops") or ())
        kw["notes"] = tuple(kw.get("notes") or ())
        prov = kw.get("provenance")
        kw["provenance"] = Provenance(**prov) if isinstance(prov, dict) else Provenance.here()
        known = {f.name for f in fields(Verdict)}
        return Verdict(**{k: v for k, v in kw.items() if k in known})
