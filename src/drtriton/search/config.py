"""SearchConfig: what `drtriton optimize` spends (budget) and how it searches. Flags map 1:1 to fields."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from drtriton.util.errors import UsageError

POLICIES = ("strict", "mixed", "hybrid")
PROPOSERS = ("rule", "hf", "openai")


@dataclass
class SearchConfig:
    """Budget and behaviour of one search.

    Budgets: the search stops at whichever comes first; None means unbounded (wall time always has a
    default so a run cannot go on forever by accident).
    """

    # ---- budget ----
    max_candidates: int | None = 64          # verified candidates (cache hits are free and not counted)
    max_gpu_seconds: float | None = None     # seconds spent in verification on a GPU (None: no cap)
    max_seconds: float | None = 1800.0       # wall time; half an hour fits a KernelBench-sized problem
    patience: int | None = 24                # early stop: candidates in a row without a better plan
    target_speedup: float | None = None      # early stop once the estimated plan reaches this
    # ---- fragments ----
    max_fragment_nodes: int = 4              # the paper used runs of 1..5 operators; 4 keeps counts small
    max_fragments: int | None = 64           # fragments tried, in enumeration order (whole program first)
    candidates_per_fragment: int = 4         # proposals per fragment per round
    refine_rounds: int = 1                   # extra rounds that feed verdicts back to model proposers
    # ---- proposers and verification ----
    proposers: tuple[str, ...] = ("rule",)
    policy: str = "hybrid"                   # hybrid lets unreplaced operators stay in PyTorch (paper)
    model_path: str | None = None            # local HF model folder for the "hf" proposer
    endpoint: str | None = None              # OpenAI-compatible base URL for the "openai" proposer
    model_name: str = "default"              # model name sent to the endpoint
    api_key_env: str = "OPENAI_API_KEY"      # env var holding the endpoint key (may be unset locally)
    temperature: float = 0.7
    max_new_tokens: int = 2048
    seed: int = 0
    # ---- caching and output ----
    cache_dir: Path | None = None            # None: no disk cache (an in-memory one is always used)
    out_dir: Path | None = None              # where ModelNew, verdict, report and plot go
    extra: dict = field(default_factory=dict)  # forwarded to the verifier config (e.g. {"tolerance": ...})

    def __post_init__(self) -> None:
        for name in ("max_candidates", "patience", "max_fragments"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or v < 1):
                raise UsageError(f"--{name.replace('_', '-')} must be a positive integer, got {v!r}; "
                                 "pass 1 or more (or omit it)")
        for name in ("max_gpu_seconds", "max_seconds", "target_speedup"):
            v = getattr(self, name)
            if v is not None and not v > 0:
                raise UsageError(f"--{name.replace('_', '-')} must be positive, got {v!r}; pass e.g. 600")
        if not 1 <= self.max_fragment_nodes <= 8:
            raise UsageError(f"--max-fragment-nodes must be 1..8, got {self.max_fragment_nodes}; "
                             "4 is the default")
        if self.candidates_per_fragment < 1:
            raise UsageError(f"--candidates-per-fragment must be at least 1, got {self.candidates_per_fragment}")
        if self.refine_rounds < 0:
            raise UsageError(f"--refine-rounds must be 0 or more, got {self.refine_rounds}")
        if self.policy not in POLICIES:
            raise UsageError(f"--policy must be one of {', '.join(POLICIES)}, got {self.policy!r}")
        self.proposers = tuple(self.proposers)
        for p in self.proposers:
            if p not in PROPOSERS:
                raise UsageError(f"unknown proposer {p!r}; pick from {', '.join(PROPOSERS)}")
        if not self.proposers:
            raise UsageError("no proposer given; pass --proposer rule (the default needs no model)")
        if "hf" in self.proposers and not self.model_path:
            raise UsageError("the hf proposer needs a local model folder; pass --model-path DIR")
        if "openai" in self.proposers and not self.endpoint:
            raise UsageError("the openai proposer needs an endpoint; pass --endpoint http://host:port/v1")
        if self.cache_dir is not None:
            self.cache_dir = Path(self.cache_dir)
        if self.out_dir is not None:
            self.out_dir = Path(self.out_dir)

    def to_json(self) -> dict:
        d = asdict(self)
        d["cache_dir"] = str(self.cache_dir) if self.cache_dir else None
        d["out_dir"] = str(self.out_dir) if self.out_dir else None
        d["proposers"] = list(self.proposers)
        return d
