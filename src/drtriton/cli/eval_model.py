"""drtriton eval-model --model DIR --level L: held-out pass@1 of a saved model (compile rate, correct rate,
fast_1 vs eager where speed is measurable, i.e. on a GPU).

    drtriton eval-model --model runs/tiny_rl/final --level 2 --config configs/train/tiny_rl_drpo.yaml --json
The held-out set is the run config's (fixed seeds, disjoint from training by canonical hash).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from drtriton.util.errors import EXIT_OK, UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval-model", help="evaluate a saved model on a held-out level (pass@1, fast_1)")
    p.add_argument("--model", type=Path, required=True, help="a local HF model folder (e.g. runs/x/final)")
    p.add_argument("--level", type=int, required=True, help="curriculum level of the held-out set (1, 2, 5, ...)")
    p.add_argument("--config", type=Path, help="run config YAML: data source, verifier settings (defaults if absent)")
    p.add_argument("--n", type=int, help="held-out tasks to use (default: data.heldout_n)")
    p.add_argument("--max-new-tokens", type=int,
                   help="answer length cap (default: the config's cap for the level, rl.max_new_tokens_by_level)")
    p.add_argument("--device", help="auto | cpu | cuda")
    p.add_argument("--out", type=Path, help="also write the full result (per-task records) as JSON here")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from drtriton.train.config import load_config
    from drtriton.train.evaluate import eval_model_dir
    from drtriton.util.fileio import atomic_write_text

    if args.level < 1:
        raise UsageError(f"--level must be a positive integer, got {args.level}; use 1, 2 or 5")
    if args.n is not None and args.n < 1:
        raise UsageError(f"--n must be a positive integer, got {args.n}")
    if not (args.model / "config.json").is_file():
        raise UsageError(f"--model {args.model} has no config.json; pass a saved model folder such as runs/x/final")
    overrides = {"device": args.device, "model.path": str(args.model)}
    cfg = load_config(args.config, overrides)
    with Console(stderr=True).status(f"evaluating {args.model} on level {args.level}"):
        result = eval_model_dir(args.model, args.level, cfg, n=args.n, max_new_tokens=args.max_new_tokens)
    data = result.to_json()
    if args.out:
        atomic_write_text(args.out, json.dumps(data, indent=1))
    if args.json:
        print(json.dumps({k: v for k, v in data.items() if k != "records"}))
        return EXIT_OK
    table = Table(title=f"held-out level {args.level}: {args.model}")
    for col in ("n", "compile rate", "correct (pass@1)", "fast_1", "geomean speedup", "format errors"):
        table.add_column(col)
    fmt = lambda v: "None" if v is None else f"{v:.3f}"
    table.add_row(str(result.n), fmt(result.compile_rate), fmt(result.correct_rate), fmt(result.fast_1),
                  fmt(result.geomean_speedup), fmt(result.format_error_rate))
    Console().print(table)
    return EXIT_OK
