"""VerifyConfig: every knob of the verification protocol (DESIGN §4), validated on construction.

VerifyConfig(policy="mixed", atol=1e-2, rtol=1e-2)   # KernelBench-compatible loose mode
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

from drtriton.util.errors import UsageError

POLICIES = ("strict", "mixed", "hybrid")
DISTRIBUTIONS = ("normal", "heavy_tailed", "uniform_shifted")
TOLERANCE_PRESETS = {"default": 1e-4, "kernelbench": 1e-2}


def gpu_pool_workers(cores_per_worker: int) -> int:
    """Verifier workers for one GPU: one per `cores_per_worker` CPU cores, 2..4. Compiles, imports and
    reference runs overlap; the pool still times one kernel at a time."""
    import os

    return max(2, min(4, (os.cpu_count() or 4) // cores_per_worker))


@dataclass(frozen=True, slots=True)
class VerifyConfig:
    """How one candidate is checked. Flags of `drtriton verify` map 1:1 onto these fields."""

    # 5 seeds: one lucky seed must not pass a kernel that is wrong on most inputs.
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    # normal: the problem's own get_inputs draw; heavy_tailed: the same values times a log-Laplace
    # factor (sign kept, so input domains hold, but magnitudes span decades) plus ~1% of elements at
    # |x| in 90..200 (past fp32 exp overflow), which exposes kernels that only work for well-scaled data. uniform_shifted: |x|+0.5 style positive shift, opt-in.
    distributions: tuple[str, ...] = ("normal", "heavy_tailed")
    # 1e-4 for fp32 (tight enough to catch TF32 / reduced-precision shortcuts); 1e-2 = KernelBench mode.
    atol: float = 1e-4
    rtol: float = 1e-4
    # mixed is the headline policy: conv/matmul library calls allowed, everything else in Triton.
    policy: str = "mixed"
    # Per worker request (reference run, or one candidate's whole check) after its first call; the
    # interpreter is slow on CPU.
    timeout_s: float = 180.0
    # A request's load, build and first call (Triton JIT, cuDNN autotune, first allocations: a large
    # KernelBench reference took over 30 s there on an H100) have this allowance, apart from timeout_s.
    first_call_timeout_s: float = 300.0
    # Resident memory cap of a worker in MB; also RLIMIT_AS on CPU (CUDA needs unlimited address space).
    # 0 = by host: 8192 on CPU; on GPUs max(8192, 80% of physical memory / concurrent workers).
    memory_mb: int = 0
    # Captured stdout+stderr of candidate code beyond this is refused (a candidate printing GBs).
    output_cap_mb: int = 16
    n_timing: int = 100  # timed calls per contestant (DESIGN §4: >= 100)
    warmup: int = 10  # untimed calls first (Triton JIT, autotune)
    # hybrid only: the candidate's Triton kernels must carry this share of GPU kernel time.
    min_triton_share: float = 0.1
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    init_seed: int = 42  # torch.manual_seed before building Model and ModelNew: identical weights
    timing_seed: int = 1_000_003  # timing inputs differ from every correctness input
    time_compile_baseline: bool = True  # also time torch.compile(Model) on a GPU
    # "problem": torch.compile(Model) is compiled and timed once per problem (and device) in a clean
    # worker that never ran candidate code, and every candidate of that problem is compared with it;
    # "candidate": compiled and timed again in every candidate's worker, interleaved with it (seconds of
    # inductor compilation for every candidate).
    compile_scope: str = "problem"
    # Rule ids switched off, for tests of defence in depth only (never in reported results).
    disabled_rules: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if len(self.seeds) < 1 or len(set(self.seeds)) != len(self.seeds):
            raise UsageError(
                f"seeds must be distinct and non-empty, got {list(self.seeds)}; pass e.g. 0,1,2,3,4"
            )
        for name in ("atol", "rtol"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0 <= value < 1):
                raise UsageError(
                    f"{name} must be in [0, 1), got {value!r}; use 1e-4 (fp32) or 1e-2 (kernelbench)"
                )
        if self.policy not in POLICIES:
            raise UsageError(f"policy must be one of {', '.join(POLICIES)}, got {self.policy!r}")
        bad = [d for d in self.distributions if d not in DISTRIBUTIONS]
        if bad or not self.distributions:
            raise UsageError(
                f"distributions must be among {', '.join(DISTRIBUTIONS)}, got {list(self.distributions)}"
            )
        if not self.timeout_s > 0:
            raise UsageError(f"timeout_s must be positive, got {self.timeout_s!r}; try 180")
        if not self.first_call_timeout_s > 0:
            raise UsageError(f"first_call_timeout_s must be positive, got {self.first_call_timeout_s!r}; try 300")
        if self.memory_mb != 0 and self.memory_mb < 512:
            raise UsageError(
                f"memory_mb must be 0 (by host) or at least 512 (torch alone needs it), got {self.memory_mb}"
            )
        if self.output_cap_mb < 1:
            raise UsageError(f"output_cap_mb must be at least 1, got {self.output_cap_mb}")
        if self.n_timing < 1 or self.warmup < 0:
            raise UsageError(f"n_timing must be >= 1 and warmup >= 0, got {self.n_timing} and {self.warmup}")
        if self.compile_scope not in ("problem", "candidate"):
            raise UsageError(f"compile_scope must be problem or candidate, got {self.compile_scope!r}")
        if not 0 <= self.min_triton_share <= 1:
            raise UsageError(f"min_triton_share must be in [0, 1], got {self.min_triton_share}")
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise UsageError(f"device must be auto, cpu, cuda or cuda:N, got {self.device!r}")
        from drtriton.verify.rules import RULES  # late: rules imports nothing from config

        unknown = [r for r in self.disabled_rules if r not in RULES]
        if unknown:
            raise UsageError(f"unknown rule ids in disabled_rules: {unknown}; see `drtriton verify --rules`")

    @staticmethod
    def with_tolerance(name_or_value: str, **kw) -> "VerifyConfig":
        """--tolerance kernelbench | default | <float>, applied to both atol and rtol."""
        if name_or_value in TOLERANCE_PRESETS:
            tol = TOLERANCE_PRESETS[name_or_value]
        else:
            try:
                tol = float(name_or_value)
            except ValueError:
                raise UsageError(
                    f"--tolerance must be kernelbench, default or a number, got {name_or_value!r}"
                ) from None
        return VerifyConfig(atol=tol, rtol=tol, **kw)

    def rule_on(self, rule_id: str) -> bool:
        return rule_id not in self.disabled_rules

    def to_json(self) -> dict:
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, tuple):
                data[key] = list(value)
        return data

    def hash(self) -> str:
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()[:16]
