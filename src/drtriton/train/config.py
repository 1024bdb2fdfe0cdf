"""Training configs (one YAML file per run, flags override it): SFTConfig and RLConfig.

    cfg = load_config(Path("configs/train/tiny_sft.yaml"), kind="sft", overrides={"sft.max_steps": 10})

Every field has a default and a why; unknown keys and bad values raise UsageError naming the key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from drtriton.train.curriculum import CurriculumConfig
from drtriton.train.losses import DRPOHyper
from drtriton.train.models import ModelSpec
from drtriton.util.errors import UsageError


@dataclass(frozen=True)
class DataConfig:
    source: str = "synth"  # synth (online, CSP-DAG) | folder (fixed KernelBench-format files)
    folder: Path | None = None  # source=folder: the problem files
    scale: str | None = None  # source=synth: "small" (CPU tests) or "realistic" shapes
    levels: tuple[int, ...] = (1, 2, 5)  # SFT pair levels; held-out sets exist for each
    heldout_n: int = 32  # tasks per held-out set (fixed seeds)
    sft_pairs: Path | None = None  # jsonl of SFT pairs; built here when missing
    sft_n_per_level: int = 200  # tasks drawn per level when building pairs
    verify_pairs: bool = True  # keep only pairs the verifier accepts (slow on CPU: interpreter)

    def __post_init__(self) -> None:
        if self.source not in ("synth", "folder"):
            raise UsageError(f"data.source must be synth or folder, got {self.source!r}")
        if self.source == "folder" and self.folder is None:
            raise UsageError("data.source=folder needs data.folder (a folder of KernelBench-format .py files)")
        if self.heldout_n < 1 or self.sft_n_per_level < 1:
            raise UsageError(f"data.heldout_n and data.sft_n_per_level must be >= 1, got {self.heldout_n}, "
                             f"{self.sft_n_per_level}")


@dataclass(frozen=True)
class SFTParams:
    backend: str = "auto"  # trl (SFTTrainer) | native (our loop) | auto: trl when importable
    lr: float = 3e-4  # from-scratch tiny models take a large lr; use ~1e-5 for pretrained ones
    batch_size: int = 8
    grad_accum: int = 1
    max_len: int = 2048  # prompt + completion tokens; longer pairs are truncated on the left of the prompt
    max_steps: int = 1000  # optimizer steps
    warmup_steps: int = 20
    save_every: int = 200  # steps between checkpoints (and the final one always)
    log_every: int = 10
    weight_decay: float = 0.0
    max_seconds: float | None = None  # native loop: stop (with a checkpoint) past this wall time; resumable
    # native loop: batches of similar lengths (shuffled, then sorted within windows of `bucket` batches;
    # the batch order is shuffled again): far less padding when answers range from 300 to 3000 tokens.
    bucket: int = 8  # 1: plain shuffled batches
    autocast: bool = True  # native loop on CUDA with fp32 weights: bf16 autocast (fp32 master weights)

    def __post_init__(self) -> None:
        if self.bucket < 1:
            raise UsageError(f"sft.bucket must be >= 1 (batches per length-sorted window), got {self.bucket}")
        if self.backend not in ("auto", "trl", "native"):
            raise UsageError(f"sft.backend must be auto, trl or native, got {self.backend!r}")
        if self.max_steps < 1 or self.batch_size < 1 or self.lr <= 0:
            raise UsageError(f"sft.max_steps, sft.batch_size and sft.lr must be positive, got {self.max_steps}, "
                             f"{self.batch_size}, {self.lr}")


@dataclass(frozen=True)
class RLParams:
    algo: str = "drpo"  # drpo (the paper's) | grpo (baseline: reward 1+log-speedup if correct else 0)
    backend: str = "native"  # native (our loop; no trl needed) | trl (GRPOTrainer; algo=grpo only)
    rollouts: int = 8  # per prompt (the paper: 8)
    prompts_per_step: int = 4
    lr: float = 1e-6  # the paper's setting (7B, pretrained); a tiny model SFT-trained from scratch takes ~1e-5
    # Linear lr warm-up over the first RL steps (batches): Adam's first updates are ~lr x sign(gradient) on
    # every weight, the most disruptive moment for an SFT policy when the RL gradient is noisy.
    warmup_steps: int = 0
    # Penalty on KL(pi || pi_ref) to the policy RL started from (k3 estimator on every completion token,
    # token mean): keeps a few noisy updates from undoing SFT. 0: off (the paper's DRPO has only the
    # trust region to pi_old). Applied the same way to DRPO and GRPO.
    ref_kl: float = 0.0
    # The reference policy of ref_kl: a model folder, or None for the policy as this run starts. A run that
    # continues an earlier RL model (the pipeline's init_rl: one 10-minute command after another) names the
    # SFT model here, so every command pulls towards the same reference.
    ref_path: str | None = None
    steps: int = 100
    updates_per_batch: int = 1  # optimizer steps per rollout batch; >1 makes the KL trust region bite
    # Sequences per forward/backward in an update (0: the whole batch at once). The loss still sees the whole
    # batch (its gradient w.r.t. the per-token log-probs first, then each chunk's backward): the same
    # gradient, with activation memory of one chunk. 128 rollouts of ~1,000 tokens at once took the H100 run
    # of 29c08b4 to 58 GB and out of memory (and starved the verifier's workers on the same GPU).
    micro_batch: int = 16
    # Update on the groups with signal only (DRPO: correct and wrong rollouts; GRPO: unequal rewards). The
    # others add nothing to either objective, only to the KL estimates and to the update's cost: at a 5-15%
    # rollout correct rate, 0-2 of 16 groups had signal (the H100 run of 90c16c8), and each update scored
    # all 128 sequences 2-3 times. The KL terms are then token means over the updated sequences.
    signal_only: bool = False
    max_new_tokens: int = 1024
    # Per-level answer caps ({level: tokens}) overriding max_new_tokens: answers grow with the level, and a
    # cap near the reference answers' length keeps a batch from idling on its longest runaway sample.
    max_new_tokens_by_level: dict | None = None
    temperature: float = 1.0  # rollout sampling; log-probs in the loss are the policy's own (temperature 1)
    top_p: float = 1.0
    clip_eps: float = 0.2  # GRPO's ratio clip
    drpo: DRPOHyper = field(default_factory=DRPOHyper)
    save_every: int = 20
    log_every: int = 1
    gen_prompts_per_call: int = 2  # prompts per generate() call: throughput vs overlap with verification
    # Weights rollouts are sampled with: "model" (the policy itself) or "bfloat16" (a bf16 copy of an fp32
    # policy, refreshed before every batch; RoPE buffers stay fp32). The tiny model on the H100 decodes
    # 4.9x faster in bf16 at 1,024 rollouts per call (bench/gen_speed.py: 152k against 31k tokens/s), where
    # autocast was slower than fp32. The loss's pi_old stays the fp32 policy's own log-probs, so the
    # sampler's rounding is one more (small) off-policy gap that DRPO's trust region / GRPO's clip absorb.
    gen_dtype: str = "model"
    verify_workers: int = 2  # concurrent verifier calls (one per group) while generation continues
    # Verify batch k while generating batch k+1 (each update then uses rollouts one update stale): the
    # verifier, not the GPU, is the slow half of a step, so this nearly halves the step time.
    overlap: bool = False
    max_seconds: float | None = None  # native loop: stop (with a checkpoint) past this wall time; resumable

    def __post_init__(self) -> None:
        if self.algo not in ("drpo", "grpo"):
            raise UsageError(f"rl.algo must be drpo or grpo, got {self.algo!r}")
        if self.backend not in ("native", "trl"):
            raise UsageError(f"rl.backend must be native or trl, got {self.backend!r}")
        if self.backend == "trl" and self.algo != "grpo":
            raise UsageError("rl.backend=trl runs GRPO only; use rl.backend=native for DRPO")
        if self.gen_dtype not in ("model", "bfloat16"):
            raise UsageError(f"rl.gen_dtype must be model or bfloat16, got {self.gen_dtype!r}")
        if self.rollouts < 2:
            raise UsageError(f"rl.rollouts must be >= 2 (groups need contrast), got {self.rollouts}")
        if self.micro_batch < 0:
            raise UsageError(f"rl.micro_batch must be >= 0 (0: the whole batch at once), got {self.micro_batch}")
        if self.steps < 1 or self.prompts_per_step < 1 or self.updates_per_batch < 1 or self.lr <= 0:
            raise UsageError("rl.steps, rl.prompts_per_step, rl.updates_per_batch and rl.lr must be positive")
        if self.warmup_steps < 0 or self.ref_kl < 0 or not self.temperature > 0:
            raise UsageError(f"rl.warmup_steps and rl.ref_kl must be >= 0 and rl.temperature > 0, got "
                             f"{self.warmup_steps}, {self.ref_kl}, {self.temperature}")
        if self.max_new_tokens_by_level is not None:
            try:
                caps = {int(k): int(v) for k, v in dict(self.max_new_tokens_by_level).items()}
            except (TypeError, ValueError):
                caps = None
            if caps is None or any(v < 1 for v in caps.values()):
                raise UsageError(f"rl.max_new_tokens_by_level must map levels to positive token counts, got "
                                 f"{self.max_new_tokens_by_level!r}; e.g. {{1: 768, 2: 1024, 5: 1536}}")
            object.__setattr__(self, "max_new_tokens_by_level", caps)

    def new_tokens_for(self, level: int) -> int:
        """The answer cap at a curriculum level."""
        return (self.max_new_tokens_by_level or {}).get(int(level), self.max_new_tokens)


@dataclass(frozen=True)
class RunConfig:
    """One training run: SFT (`sft` used) or RL (`rl`, `curriculum` used); both share the rest."""

    run_dir: Path = Path("runs/train")
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    model: ModelSpec = field(default_factory=lambda: ModelSpec(builtin="tiny", tokenizer_dir=Path("runs/tok")))
    data: DataConfig = field(default_factory=DataConfig)
    sft: SFTParams = field(default_factory=SFTParams)
    rl: RLParams = field(default_factory=RLParams)
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)
    verify: dict = field(default_factory=dict)  # VerifyConfig fields (policy, timeout_s, device, ...)
    eval_n: int = 16  # held-out tasks per curriculum evaluation during RL; 0: no evaluation (fixed level)

    def resolved_device(self) -> str:
        if self.device != "auto":
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"


def _build(cls, data: dict, where: str):
    if not isinstance(data, dict):
        raise UsageError(f"{where} must be a mapping, got {type(data).__name__}")
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise UsageError(f"unknown key(s) {unknown} in {where}; known: {sorted(names)}")
    kw = {}
    for key, value in data.items():
        typ = str(names[key].type)
        if key == "drpo":
            value = _build(DRPOHyper, value, f"{where}.drpo")
        elif "Path" in typ and value is not None:
            value = Path(value)
        elif "tuple" in typ and value is not None:
            value = tuple(value)
        kw[key] = value
    return cls(**kw)


def _set_dotted(tree: dict, dotted: str, value) -> None:
    *parents, leaf = dotted.split(".")
    for p in parents:
        tree = tree.setdefault(p, {})
    tree[leaf] = value


def load_config(path: Path | None, overrides: dict | None = None) -> RunConfig:
    """Reads a YAML run config; `overrides` maps dotted keys ("rl.steps") to values (CLI flags)."""
    raw: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise UsageError(f"config file {path} does not exist; see configs/train/ for examples")
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise UsageError(f"config file {path} is not valid YAML ({str(exc).splitlines()[0]})") from None
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    builtin_only = ("builtin", "tokenizer_dir", "vocab_size", "overrides", "seed")
    if "model.path" in overrides:
        # A model folder replaces a built-in: drop the fields that only built-ins take.
        if isinstance(raw.get("model"), dict):
            raw["model"] = {k: v for k, v in raw["model"].items() if k not in builtin_only}
        overrides = {k: v for k, v in overrides.items() if k not in {f"model.{b}" for b in builtin_only}}
    for key, value in overrides.items():
        _set_dotted(raw, key, value)
    sections = {"model": ModelSpec.from_dict, "data": lambda d: _build(DataConfig, d, "data"),
                "sft": lambda d: _build(SFTParams, d, "sft"), "rl": lambda d: _build(RLParams, d, "rl"),
                "curriculum": lambda d: _build(CurriculumConfig, d, "curriculum")}
    kw = {}
    for key, value in raw.items():
        if key in sections:
            kw[key] = sections[key](value or {})
        elif key == "run_dir":
            kw[key] = Path(value)
        else:
            kw[key] = value
    known = {f.name for f in dataclasses.fields(RunConfig)}
    unknown = sorted(set(kw) - known)
    if unknown:
        raise UsageError(f"unknown top-level key(s) {unknown} in the config; known: {sorted(known)}")
    return RunConfig(**kw)
