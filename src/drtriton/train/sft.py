"""Supervised fine-tuning on (program -> verified Triton ModelNew) pairs: TRL's SFTTrainer when trl is
installed, else our own loop (the GPU machine has no trl). Both train on completion tokens only and resume
from the last checkpoint of `run_dir`.

    result = run_sft(load_config(Path("configs/train/tiny_sft.yaml")))
    # run_dir/final/ is a standard HF model folder (model + tokenizer) for `train rl` and `eval-model`
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from drtriton.train import checkpoint as ckpt
from drtriton.train.config import RunConfig
from drtriton.train.data import read_jsonl, write_jsonl
from drtriton.train.metrics import MetricsLogger, plot_learning_curves
from drtriton.train.models import count_parameters, load_model
from drtriton.train.workspace import Workspace
from drtriton.util.fileio import atomic_write_text
from drtriton.util.provenance import Provenance


@dataclass
class SFTResult:
    final_dir: Path
    steps: int
    backend: str
    n_pairs: int
    final_loss: float | None
    seconds: float
    params: int


def trl_available() -> bool:
    try:
        import trl  # noqa: F401

        return True
    except ImportError:
        return False


def sft_pairs_for(cfg: RunConfig, ws: Workspace, progress: Callable[[int], None] | None = None) -> list[dict]:
    """Reads cfg.data.sft_pairs, or builds the pairs (and writes them beside the run) when missing."""
    path = cfg.data.sft_pairs or (cfg.run_dir / "sft_pairs.jsonl")
    if Path(path).is_file():
        return read_jsonl(path)
    pairs, counts = ws.build_sft_pairs(progress)
    write_jsonl(path, pairs)
    atomic_write_text(cfg.run_dir / "sft_pairs_counts.json", __import__("json").dumps(counts))
    return pairs


def _encode(tokenizer, pair: dict, max_len: int) -> tuple[list[int], list[int]]:
    p = tokenizer(pair["prompt"], add_special_tokens=False).input_ids
    c = tokenizer(pair["completion"], add_special_tokens=False).input_ids + [tokenizer.eos_token_id]
    c = c[:max_len]
    p = p[-(max_len - len(c)):] if max_len > len(c) else []
    return p, c


def epoch_order(lengths: list[int], batch: int, bucket: int, seed: int) -> list[int]:
    """One epoch's example order: shuffled, then sorted by length within windows of `bucket` batches, then
    those batches shuffled (each batch holds similar lengths, the epoch still mixes them). bucket=1: a
    plain shuffle."""
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if bucket <= 1 or batch < 1:
        return order
    window = batch * bucket
    batches = []
    for w in range(0, len(order), window):
        chunk = sorted(order[w:w + window], key=lambda i: lengths[i])
        batches += [chunk[b:b + batch] for b in range(0, len(chunk), batch)]
    rng.shuffle(batches)
    return [i for b in batches for i in b]


def _native_sft(cfg: RunConfig, model, tokenizer, pairs: list[dict], log: MetricsLogger, device: str,
                on_step: Callable[[int, float], None] | None,
                more_pairs: Callable[[], list[dict]] | None = None) -> tuple[int, float | None]:
    import torch

    p = cfg.sft
    encoded = [_encode(tokenizer, pair, p.max_len) for pair in pairs]
    params = [q for q in model.parameters() if q.requires_grad]
    opt = torch.optim.AdamW(params, lr=p.lr, weight_decay=p.weight_decay)

    t_start = time.time()

    def lr_at(s: int) -> float:
        """Linear warmup, then cosine decay to 0 at max_steps or, when sft.max_seconds is set, at whichever
        of the step and time budgets comes first (a time-bound run still ends on a decayed lr)."""
        done = s / p.max_steps
        if p.max_seconds is not None:
            done = max(done, (time.time() - t_start) / p.max_seconds)
        warm = min(1.0, (s + 1) / max(1, p.warmup_steps))
        return p.lr * warm * 0.5 * (1 + math.cos(math.pi * min(1.0, done)))

    amp = (torch.autocast("cuda", dtype=torch.bfloat16) if p.autocast and device.startswith("cuda")
           and next(model.parameters()).dtype == torch.float32 else contextlib.nullcontext())
    step, order_epoch = 0, 0
    last = ckpt.latest_checkpoint(cfg.run_dir)
    if last is not None:
        state = ckpt.load_state(last)
        step, order_epoch = state["step"], state["epoch"]
        model.load_state_dict(_load_weights(last, model), strict=False)
        ckpt.load_optimizer(last, opt)
    model.train()
    per_step = p.batch_size * p.grad_accum
    loss_value = None
    while step < p.max_steps:
        if more_pairs is not None and step % p.log_every == 0:
            new = more_pairs()  # pairs still being made while we train (a budgeted run)
            encoded += [_encode(tokenizer, pair, p.max_len) for pair in new]
            pairs.extend(new)
        order = epoch_order([len(pr) + len(co) for pr, co in encoded], per_step, p.bucket,
                            cfg.seed * 7919 + order_epoch)
        start = (step * per_step) % max(1, len(order))
        idx = (order * (per_step // max(1, len(order)) + 2))[start: start + per_step]
        lr_now = lr_at(step)
        for group in opt.param_groups:
            group["lr"] = lr_now
        opt.zero_grad(set_to_none=True)
        total_tokens = sum(len(encoded[i][1]) for i in idx)
        loss_sum = 0.0
        for mb in range(p.grad_accum):
            chunk = idx[mb * p.batch_size:(mb + 1) * p.batch_size]
            seqs = [encoded[i][0] + encoded[i][1] for i in chunk]
            length = max(len(s) for s in seqs)
            ids = torch.full((len(seqs), length), tokenizer.pad_token_id, dtype=torch.long)
            labels = torch.full((len(seqs), length), -100, dtype=torch.long)
            attn = torch.zeros((len(seqs), length), dtype=torch.long)
            for r, i in enumerate(chunk):
                pr, co = encoded[i]
                ids[r, :len(pr) + len(co)] = torch.tensor(pr + co)
                labels[r, len(pr):len(pr) + len(co)] = torch.tensor(co)
                attn[r, :len(pr) + len(co)] = 1
            ids, labels, attn = ids.to(device), labels.to(device), attn.to(device)
            with amp:
                logits = model(input_ids=ids, attention_mask=attn, use_cache=False).logits[:, :-1].float()
            tok_loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100, reduction="sum")
            (tok_loss / total_tokens).backward()
            loss_sum += float(tok_loss.detach())
        grad_norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        if (step * per_step) // max(1, len(order)) > ((step - 1) * per_step) // max(1, len(order)):
            order_epoch += 1
        loss_value = loss_sum / total_tokens
        out_of_time = p.max_seconds is not None and time.time() - t_start > p.max_seconds
        if step % p.log_every == 0 or step == p.max_steps or out_of_time:  # the last step is always logged
            log.log(step, {"sft/loss": loss_value, "sft/grad_norm": float(grad_norm),
                           "sft/lr": lr_now, "sft/pairs": len(encoded)})
        if on_step:
            on_step(step, loss_value)
        if step % p.save_every == 0 or step == p.max_steps or out_of_time:
            ckpt.save_checkpoint(cfg.run_dir, step, model, tokenizer, opt, {"epoch": order_epoch, "kind": "sft"})
        if out_of_time:
            break
    return step, loss_value


def _load_weights(ckpt_dir: Path, model) -> dict:
    """The trainable weights saved in a checkpoint's model folder, keyed like model.state_dict()."""
    from safetensors.torch import load_file

    folder = Path(ckpt_dir) / "model"
    files = sorted(folder.glob("*.safetensors"))
    state = {}
    for f in files:
        state.update(load_file(str(f)))
    if hasattr(model, "peft_config"):
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(model, state)
        return {}
    return state


def _trl_sft(cfg: RunConfig, model, tokenizer, pairs: list[dict], log: MetricsLogger,
             on_step: Callable[[int, float], None] | None) -> tuple[int, float | None]:
    from datasets import Dataset
    from transformers import TrainerCallback
    from transformers.trainer_utils import get_last_checkpoint
    from trl import SFTConfig, SFTTrainer

    p = cfg.sft
    last_loss: list[float] = []

    class _Log(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kw):
            if logs and "loss" in logs:
                last_loss.append(float(logs["loss"]))
                log.log(state.global_step, {"sft/loss": logs["loss"], "sft/grad_norm": logs.get("grad_norm"),
                                            "sft/lr": logs.get("learning_rate")})
                if on_step:
                    on_step(state.global_step, float(logs["loss"]))

    out = cfg.run_dir / "trl"
    args = SFTConfig(output_dir=str(out), max_steps=p.max_steps, per_device_train_batch_size=p.batch_size,
                     gradient_accumulation_steps=p.grad_accum, learning_rate=p.lr, warmup_steps=p.warmup_steps,
                     lr_scheduler_type="cosine", logging_steps=p.log_every, save_steps=p.save_every,
                     save_total_limit=2, max_length=p.max_len, report_to=[], seed=cfg.seed,
                     weight_decay=p.weight_decay, max_grad_norm=1.0, completion_only_loss=True,
                     disable_tqdm=True, use_cpu=cfg.resolved_device() == "cpu", dataloader_num_workers=0,
                     bf16=cfg.model.dtype == "bfloat16")
    data = Dataset.from_list([{"prompt": x["prompt"], "completion": x["completion"]} for x in pairs])
    trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer,
                         callbacks=[_Log()])
    resume = get_last_checkpoint(str(out)) if out.is_dir() else None
    trainer.train(resume_from_checkpoint=resume)
    return trainer.state.global_step, (last_loss[-1] if last_loss else None)


def run_sft(cfg: RunConfig, progress: Callable[[str, int, int], None] | None = None,
            ws: Workspace | None = None, more_pairs: Callable[[], list[dict]] | None = None) -> SFTResult:
    """Builds/reads SFT pairs, builds/loads the model, trains, writes run_dir/final and learning curves.

    Args:
        progress: called as progress(phase, done, total) for "data" and "train".
        more_pairs: native loop only: polled every `sft.log_every` steps for pairs made since (a run that
            keeps drawing data while it trains); they join the training set. SFTResult.n_pairs counts them.
    """
    import torch

    t0 = time.time()
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    device = cfg.resolved_device()
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    own_ws = ws is None
    ws = ws or Workspace(cfg)
    try:
        pairs = sft_pairs_for(cfg, ws, (lambda k: progress("data", k, 0)) if progress else None)
    finally:
        if own_ws:
            ws.close()
    if not pairs:
        from drtriton.util.errors import UsageError

        raise UsageError("no SFT pairs survived (none compiled or verified); check the code generator and "
                         "verifier on a few tasks, or set data.verify_pairs: false")
    corpus = [x["prompt"] + x["completion"] for x in pairs]
    model, tokenizer = load_model(cfg.model, corpus=corpus, device=device)
    backend = cfg.sft.backend
    if backend == "auto":
        backend = "trl" if trl_available() and cfg.model.lora is None else "native"
    log = MetricsLogger(cfg.run_dir)
    on_step = (lambda s, loss: progress("train", s, cfg.sft.max_steps)) if progress else None
    try:
        if backend == "trl":
            steps, loss = _trl_sft(cfg, model, tokenizer, pairs, log, on_step)
        else:
            steps, loss = _native_sft(cfg, model, tokenizer, pairs, log, device, on_step, more_pairs)
    finally:
        log.close()
    final = cfg.run_dir / "final"
    model = ckpt.save_final(model, tokenizer, final)
    atomic_write_text(final / "drtriton_train.json", __import__("json").dumps(
        {"kind": "sft", "steps": steps, "backend": backend, "pairs": len(pairs), "final_loss": loss,
         "provenance": Provenance.here().to_json()}))
    plot_learning_curves(cfg.run_dir / "metrics.csv", cfg.run_dir / "curves.png")
    return SFTResult(final, steps, backend, len(pairs), loss, time.time() - t0, count_parameters(model))
