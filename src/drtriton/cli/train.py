"""drtriton train sft|rl --config FILE: supervised fine-tuning, then DRPO/GRPO RL with a curriculum.

    drtriton train sft --config configs/train/tiny_sft.yaml
    drtriton train rl --config configs/train/tiny_rl_drpo.yaml --steps 50 --json
Runs resume from the last checkpoint in run_dir. Logs: run_dir/metrics.csv, run_dir/tb/, run_dir/curves.png.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from drtriton.util.errors import EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a kernel-writing model: sft, then rl (DRPO or GRPO)")
    p.add_argument("stage", choices=["sft", "rl"], help="sft: fit verified pairs; rl: DRPO/GRPO with a curriculum")
    p.add_argument("--config", type=Path, required=True, help="run config YAML (configs/train/*.yaml)")
    p.add_argument("--run-dir", type=Path, help="overrides run_dir: checkpoints, logs, final model")
    p.add_argument("--model", type=Path, help="overrides model.path: a local HF model folder (e.g. an SFT run's final/)")
    p.add_argument("--seed", type=int, help="overrides seed")
    p.add_argument("--device", help="overrides device: auto | cpu | cuda")
    p.add_argument("--max-steps", type=int, help="sft: overrides sft.max_steps")
    p.add_argument("--steps", type=int, help="rl: overrides rl.steps")
    p.add_argument("--algo", choices=["drpo", "grpo"], help="rl: overrides rl.algo")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(run=run)


def _overrides(args: argparse.Namespace) -> dict:
    out = {"run_dir": args.run_dir and str(args.run_dir), "seed": args.seed, "device": args.device,
           "sft.max_steps": args.max_steps, "rl.steps": args.steps, "rl.algo": args.algo}
    if args.model is not None:
        out["model.path"] = str(args.model)  # replaces a built-in model of the config file
    return out


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from drtriton.train.config import load_config

    cfg = load_config(args.config, _overrides(args))
    err = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[info]}"), console=err, transient=False) as bar:
        if args.stage == "sft":
            from drtriton.train.sft import run_sft

            data_t = bar.add_task("sft pairs", total=None, info="")
            train_t = bar.add_task("sft steps", total=cfg.sft.max_steps, info="")

            def progress(phase: str, done: int, total: int) -> None:
                if phase == "data":
                    bar.advance(data_t, done)
                else:
                    bar.update(train_t, completed=done)

            result = run_sft(cfg, progress=progress)
        else:
            from drtriton.train.rl import run_rl

            task = bar.add_task(f"rl {cfg.rl.algo}", total=cfg.rl.steps, info="")

            def progress(step: int, total: int, info: dict) -> None:
                bar.update(task, completed=step, info=f"level {info.get('curriculum/level')} "
                           f"correct {info.get('rollout/correct_rate', 0):.2f}")

            result = run_rl(cfg, progress=progress)
    summary = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(result).items()}
    summary["run_dir"] = str(cfg.run_dir)
    if args.json:
        print(json.dumps(summary))
        return EXIT_OK
    table = Table(title=f"drtriton train {args.stage}")
    table.add_column("field")
    table.add_column("value")
    for key, value in summary.items():
        if key in ("curriculum", "last_stats"):
            value = json.dumps(value)[:200]
        table.add_row(key, "None" if value is None else str(value))
    Console().print(table)
    return EXIT_OK
