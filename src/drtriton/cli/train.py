"""drtriton train sft|rl --config FILE: supervised fine-tuning, then DRPO/GRPO RL with a curriculum;
drtriton train pipeline --out DIR: all of it from scratch in one budgeted run (docs/TRAINING.md).

    drtriton train sft --config configs/train/tiny_sft.yaml
    drtriton train rl --config configs/train/tiny_rl_drpo.yaml --steps 50 --json
    drtriton train pipeline --out runs/p_out --smoke
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
    p.add_argument("stage", choices=["sft", "rl", "pipeline"],
                   help="sft: fit verified pairs; rl: DRPO/GRPO with a curriculum; pipeline: data -> sft -> rl -> eval")
    p.add_argument("--config", type=Path, help="sft/rl: run config YAML (configs/train/*.yaml)")
    p.add_argument("--out", type=Path, help="pipeline: results.json, plots and logs go here")
    p.add_argument("--work", type=Path, help="pipeline: models and checkpoints (default runs/pipeline)")
    p.add_argument("--smoke", action="store_true", help="pipeline: CPU dry run at toy sizes")
    p.add_argument("--budget-s", type=float, help="pipeline: wall-time budget of the whole run in seconds")
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

    if args.stage == "pipeline":
        return _pipeline(args)
    if args.config is None:
        from drtriton.util.errors import UsageError

        raise UsageError(f"train {args.stage} needs --config FILE.yaml; see configs/train/ for examples")
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


def _pipeline(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from rich.console import Console
    from rich.table import Table

    from drtriton.train.pipeline import PipelineConfig, run_pipeline
    from drtriton.util.errors import UsageError

    if args.out is None:
        raise UsageError("train pipeline needs --out DIR (results.json, plots and logs go there)")
    work = args.work or Path("runs") / ("pipeline_smoke" if args.smoke else "pipeline")
    cfg = PipelineConfig.smoke(args.out, work) if args.smoke else PipelineConfig(out=args.out, work=work)
    changes = {"budget_s": args.budget_s, "seed": args.seed, "device": args.device}
    results = run_pipeline(replace(cfg, **{k: v for k, v in changes.items() if v is not None}))
    if args.json:
        print(json.dumps({"phases": results["phases"], "comparison": results["comparison"]}, default=str))
        return EXIT_OK
    table = Table(title=f"drtriton train pipeline ({args.out / 'results.json'})")
    for col in ("model", "compile rate", "correct rate", "fast_1"):
        table.add_column(col)
    for name, row in results["comparison"]["pooled"].items():
        table.add_row(name, *("n/m" if row[m] is None else f"{row[m]:.3f}"
                              for m in ("compile_rate", "correct_rate", "fast_1")))
    Console().print(table)
    Console().print(results["comparison"]["summary"])
    return EXIT_OK
