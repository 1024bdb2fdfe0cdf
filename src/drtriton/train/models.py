"""Models without a hub: a local HF causal-LM directory, or a built-in Qwen2-architecture config built from
scratch with a BPE tokenizer trained here on our own corpus (saved in the standard HF format).

    spec = ModelSpec(builtin="tiny", tokenizer_dir=Path("runs/tok"))
    model, tokenizer = load_model(spec, corpus=texts)   # trains + saves the tokenizer if absent
    model, tokenizer = load_model(ModelSpec(path=Path("runs/sft/final")))

Built-ins: "tiny" (~17M params at vocab 8192), "mini" (~1.3M at vocab 2048: a CPU proxy), "small" (~125M at
vocab 16384), "qwen2.5-7b" (the Qwen2.5-7B architecture, random weights: for scale tests only), "test"
(2 layers, hidden 64: CPU tests).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from drtriton.util.errors import UsageError

SPECIAL_TOKENS = {"eos_token": "<|endoftext|>", "pad_token": "<|pad|>"}

# Qwen2 architecture (GQA, RMSNorm, SwiGLU, RoPE): the family we scale to, so the tiny model exercises
# the same code paths as the 7B one.
BUILTIN_MODELS: dict[str, dict] = {
    "test": {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
             "intermediate_size": 128, "max_position_embeddings": 2048, "tie_word_embeddings": True},
    # ~1.3M at vocab 2048: the CPU proxy of the tiny model (minutes of SFT on a laptop core)
    "mini": {"hidden_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2,
             "intermediate_size": 512, "max_position_embeddings": 4096, "tie_word_embeddings": True},
    "tiny": {"hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 6, "num_key_value_heads": 2,
             "intermediate_size": 1536, "max_position_embeddings": 4096, "tie_word_embeddings": True},
    "small": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "num_key_value_heads": 4,
              "intermediate_size": 3072, "max_position_embeddings": 4096, "tie_word_embeddings": True},
    # Qwen2.5-7B's published config.json values (architecture only; no weights are downloaded).
    "qwen2.5-7b": {"hidden_size": 3584, "num_hidden_layers": 28, "num_attention_heads": 28,
                   "num_key_value_heads": 4, "intermediate_size": 18944, "max_position_embeddings": 32768,
                   "tie_word_embeddings": False, "rope_theta": 1_000_000.0, "rms_norm_eps": 1e-6,
                   "vocab_size": 152064},
}


@dataclass(frozen=True)
class LoraSpec:
    """LoRA adapters through peft (None in ModelSpec.lora means full fine-tuning)."""

    r: int = 16
    alpha: int = 32
    dropout: float = 0.0
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class ModelSpec:
    """Where the policy comes from: exactly one of `path` (local HF directory) or `builtin`."""

    path: Path | None = None  # a local directory with config.json + weights + tokenizer files
    builtin: str | None = None  # a key of BUILTIN_MODELS
    tokenizer_dir: Path | None = None  # built-ins: where the trained tokenizer lives (trained if absent)
    vocab_size: int = 8192  # built-ins: BPE vocabulary size to train
    dtype: str = "float32"  # float32 | bfloat16 | float16
    lora: LoraSpec | None = None
    gradient_checkpointing: bool = False
    seed: int = 0  # weight init of built-ins
    overrides: dict = field(default_factory=dict)  # built-ins: config fields to change (e.g. num_hidden_layers)

    def __post_init__(self) -> None:
        if (self.path is None) == (self.builtin is None):
            raise UsageError("model: give exactly one of model.path (a local HF directory) or model.builtin "
                             f"(one of {sorted(BUILTIN_MODELS)}); got path={self.path}, builtin={self.builtin}")
        if self.builtin is not None and self.builtin not in BUILTIN_MODELS:
            raise UsageError(f"model.builtin must be one of {sorted(BUILTIN_MODELS)}, got {self.builtin!r}")
        if self.path is not None and not (Path(self.path) / "config.json").is_file():
            raise UsageError(f"model.path {self.path} has no config.json; point it at a saved HF model folder")
        if self.dtype not in ("float32", "bfloat16", "float16"):
            raise UsageError(f"model.dtype must be float32, bfloat16 or float16, got {self.dtype!r}")
        if self.vocab_size < 300:
            raise UsageError(f"model.vocab_size must be >= 300 (256 bytes + merges), got {self.vocab_size}")

    @staticmethod
    def from_dict(d: dict) -> ModelSpec:
        d = dict(d)
        for key in ("path", "tokenizer_dir"):
            if d.get(key) is not None:
                d[key] = Path(d[key])
        if d.get("lora"):
            lora = dict(d["lora"])
            if "target_modules" in lora:
                lora["target_modules"] = tuple(lora["target_modules"])
            d["lora"] = LoraSpec(**lora)
        try:
            return ModelSpec(**d)
        except TypeError as exc:
            raise UsageError(f"model: {exc}; see docs/TRAINING.md for the fields") from None


def train_tokenizer(texts: Iterable[str], vocab_size: int, out_dir: Path):
    """Trains a byte-level BPE tokenizer on `texts` and saves it (tokenizer.json + config) in `out_dir`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS.values()),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(list(texts), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, **SPECIAL_TOKENS)
    fast.padding_side = "left"  # generation pads prompts on the left
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(str(out_dir))
    return fast


# tokenizer_class values a tokenizer trained by `train_tokenizer` is saved with (transformers 5 / 4).
_OWN_TOKENIZER_CLASSES = ("TokenizersBackend", "PreTrainedTokenizerFast")


def load_tokenizer(directory: Path):
    """The tokenizer saved in `directory`, encoding exactly as when it was saved.

    A tokenizer we trained is loaded as the plain fast tokenizer of its tokenizer.json. AutoTokenizer would
    not do that in a model folder: transformers 5.23 picks the class from config.json's model_type
    (Qwen2Tokenizer), whose own pre-tokenizer splits text differently (measured: 254 tokens instead of 243
    for one prompt), so an SFT model loaded for RL or evaluation read token ids it was never trained on.
    """
    import json

    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    directory = Path(directory)
    config = directory / "tokenizer_config.json"
    cls = json.loads(config.read_text()).get("tokenizer_class") if config.is_file() else None
    if (directory / "tokenizer.json").is_file() and cls in _OWN_TOKENIZER_CLASSES:
        tok = PreTrainedTokenizerFast.from_pretrained(str(directory))
    else:
        tok = AutoTokenizer.from_pretrained(str(directory))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    return tok


def _torch_dtype(name: str):
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def builtin_config(name: str, vocab_size: int, tokenizer=None, **overrides):
    """The transformers Qwen2Config of a built-in model."""
    from transformers import Qwen2Config

    fields_ = dict(BUILTIN_MODELS[name])
    fields_.setdefault("vocab_size", vocab_size)
    fields_.update(overrides)
    if tokenizer is not None:
        fields_.update(vocab_size=len(tokenizer), eos_token_id=tokenizer.eos_token_id,
                       pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.eos_token_id)
    return Qwen2Config(**fields_)


def load_model(spec: ModelSpec, corpus: Iterable[str] | None = None, device: str = "cpu"):
    """Builds or loads (model, tokenizer) per `spec`; applies LoRA and gradient checkpointing.

    Raises:
        UsageError: a built-in without a saved tokenizer and no corpus to train one on.
    """
    import torch
    from transformers import AutoModelForCausalLM

    dtype = _torch_dtype(spec.dtype)
    if spec.path is not None:
        tokenizer = load_tokenizer(spec.path)
        model = AutoModelForCausalLM.from_pretrained(str(spec.path), dtype=dtype)
        if (Path(spec.path) / "adapter_config.json").is_file() and spec.lora is not None:
            spec = ModelSpec(path=spec.path, dtype=spec.dtype, lora=None,
                             gradient_checkpointing=spec.gradient_checkpointing)  # adapters already attached
    else:
        tok_dir = spec.tokenizer_dir
        if tok_dir is not None and (Path(tok_dir) / "tokenizer.json").is_file():
            tokenizer = load_tokenizer(tok_dir)
        elif corpus is not None and tok_dir is not None:
            tokenizer = train_tokenizer(corpus, spec.vocab_size, tok_dir)
        else:
            raise UsageError(f"model.builtin={spec.builtin} needs model.tokenizer_dir with a trained tokenizer "
                             f"(got {tok_dir}); run `drtriton train sft` first, which trains one")
        torch.manual_seed(spec.seed)
        config = builtin_config(spec.builtin, spec.vocab_size, tokenizer, **spec.overrides)
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.to(device)
    if str(device).startswith("cuda"):
        # cuDNN's fused attention (one of SDPA's backends) failed an SFT run's backward on the H100
        # ("mha_graph.execute(...).is_good()", torch 2.11+cu130, 2026-11-24) after 160 s of training; its
        # backward has open shape-specific bugs upstream. Flash and memory-efficient SDPA stay available.
        torch.backends.cuda.enable_cudnn_sdp(False)
    if spec.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.config.use_cache = False
    if spec.lora is not None:
        from peft import LoraConfig, get_peft_model

        if spec.gradient_checkpointing:
            model.enable_input_require_grads()
        lora = LoraConfig(r=spec.lora.r, lora_alpha=spec.lora.alpha, lora_dropout=spec.lora.dropout,
                          target_modules=list(spec.lora.target_modules), task_type="CAUSAL_LM")
        model = get_peft_model(model, lora)
    return model, tokenizer


def count_parameters(model, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
