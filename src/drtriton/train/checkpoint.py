"""Resumable checkpoints: model (HF format, or LoRA adapter), optimizer, and trainer state (step, curriculum,
task-stream cursor, RNG), written to a temp folder and renamed, so a killed run resumes from the last
complete one.

    save_checkpoint(run_dir, step, model, tokenizer, optimizer, state)
    found = latest_checkpoint(run_dir)   # Path | None; load_state(found) -> dict
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

from drtriton.util.fileio import atomic_write_text

STATE_FILE = "state.json"


def _rng_state() -> dict:
    import torch

    state = {"python": random.getstate(), "torch": torch.get_rng_state().tolist()}
    if torch.cuda.is_available():
        state["cuda"] = [s.tolist() for s in torch.cuda.get_rng_state_all()]
    return state


def _set_rng_state(state: dict) -> None:
    import torch

    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([torch.tensor(s, dtype=torch.uint8) for s in state["cuda"]])


def save_checkpoint(run_dir: Path, step: int, model, tokenizer, optimizer, state: dict, keep_last: int = 2) -> Path:
    """Writes checkpoints/step_<step>/ atomically (temp folder + rename) and prunes old ones."""
    import torch

    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step_{step:08d}"
    tmp = root / f".tmp_step_{step:08d}"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp / "model"))
    tokenizer.save_pretrained(str(tmp / "model"))
    if optimizer is not None:
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    full = dict(state, step=step, rng=_rng_state())
    (tmp / STATE_FILE).write_text(json.dumps(full))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    atomic_write_text(root / "latest", final.name + "\n")
    for old in sorted(p for p in root.glob("step_*") if p.is_dir())[:-keep_last]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint folder of a run, or None (temp folders are never complete)."""
    root = Path(run_dir) / "checkpoints"
    done = sorted(p for p in root.glob("step_*") if (p / STATE_FILE).is_file())
    return done[-1] if done else None


def load_state(ckpt: Path, restore_rng: bool = True) -> dict:
    state = json.loads((Path(ckpt) / STATE_FILE).read_text())
    if restore_rng and "rng" in state:
        _set_rng_state(state["rng"])
    return state


def load_optimizer(ckpt: Path, optimizer) -> None:
    import torch

    path = Path(ckpt) / "optimizer.pt"
    if path.is_file():
        optimizer.load_state_dict(torch.load(path, map_location="cpu", weights_only=False))


def save_final(model, tokenizer, folder: Path):
    """The run's exported model: a standard HF folder (`eval-model --model` loads it). A LoRA policy is
    saved twice: its adapter in folder/adapter, and merged into the base weights in folder itself (the
    merge happens in place, so call this only when training is over). Returns the (maybe merged) model."""
    folder = Path(folder)
    if hasattr(model, "peft_config"):
        model.save_pretrained(str(folder / "adapter"))
        model = model.merge_and_unload()
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return model
