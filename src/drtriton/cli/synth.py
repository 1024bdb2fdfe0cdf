"""drtriton synth: write N uniform random programs of a level as KernelBench tasks (exactly uniform at
levels 1..7, approximately above them: docs/SYNTH.md), or print the
operator / operator-pair coverage of a level.

    drtriton synth --n 1000 --level 5 --seed 0 --out tasks.parquet
    drtriton synth --coverage --n 20000 --level 2
"""

from __future__ import annotations

import argparse
import json
import sys

from drtriton.util.errors import EXIT_OK, UsageError


def _range(text: str) -> tuple[int, int]:
    try:
        lo, hi = (int(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN:MAX (e.g. 0:2), got {text!r}") from None
    return (lo, hi)


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="synthesize uniform random programs of a difficulty level (tasks)")
    p.add_argument("--n", type=int, default=1000, help="programs to write (or to draw with --coverage)")
    p.add_argument("--level", type=int, default=5, help="compute operators per program: 1..32 (1, 2, 5, 20); above 7 drawn by a Markov chain, "
                        "approximately uniform")
    p.add_argument("--seed", type=int, default=0, help="base seed; row i uses stream_seed(seed, i)")
    p.add_argument("--out", type=str, default=None, help="output .parquet or .jsonl (resumed if it exists)")
    p.add_argument("--ops", type=_names, default=(), help="comma-separated allow-list of operators")
    p.add_argument("--exclude-ops", type=_names, default=(), help="comma-separated deny-list of operators")
    p.add_argument("--heavy", type=_range, default=None, help="MIN:MAX matmul/conv operators (level default)")
    p.add_argument("--reductions", type=_range, default=None, help="MIN:MAX reducing operators")
    p.add_argument("--max-fanout", type=int, default=None, help="most consumers of one operator's output")
    p.add_argument("--max-inputs", type=int, default=None, help="most graph inputs")
    p.add_argument("--shape-scale", choices=["small", "realistic"], default="small",
                   help="small: CPU-test sizes; realistic: KernelBench-like sizes for GPU runs")
    p.add_argument("--no-check-degenerate", dest="check_degenerate", action="store_false",
                   help="skip the torch run that rejects NaN/constant/input-insensitive outputs")
    p.add_argument("--strict-uniform", action="store_true",
                   help="every row uniform over valid programs (default: the first rows cover every legal "
                        "operator pair, one exactly-uniform draw per pair; docs/SYNTH.md)")
    p.add_argument("--coverage", action="store_true", help="print operator and pair coverage instead")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from drtriton.synth import SynthConfig, write_dataset

    if not args.coverage and args.out is None:
        raise UsageError("--out is required (a .parquet or .jsonl path), or pass --coverage")
    config = SynthConfig(n=args.n, level=args.level, seed=args.seed, out=None if args.coverage else args.out,
                         ops=args.ops, exclude_ops=args.exclude_ops, heavy=args.heavy,
                         reductions=args.reductions, max_fanout=args.max_fanout, max_inputs=args.max_inputs,
                         shape_scale=args.shape_scale, check_degenerate=args.check_degenerate,
                         strict_uniform=args.strict_uniform)
    console = Console()
    if args.coverage:
        report = config.sampler().coverage(config.n, config.seed, config.strict_uniform)
        report["stream"] = "strict-uniform" if config.strict_uniform else "coverage-seeded"
        if config.sampler().config["mcmc_steps"] > 0:  # levels above 7: no strata, every row from the chain
            report["stream"] = "markov-chain"
        return _print_coverage(report, args.json, console, Table)
    import torch

    if not torch.cuda.is_available():
        torch.set_num_threads(1)  # tiny programs: thread start-up costs more than it saves
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(f"level {config.level}", total=config.n)
        result = write_dataset(config, progress=lambda done: bar.update(task, completed=done))
    summary = {"out": str(result.path), "rows": result.rows, "resumed_from": result.resumed_from,
               "seconds": round(result.seconds, 3), "degenerate_rejected": result.degenerate,
               "level": config.level, "seed": config.seed}
    if args.json:
        print(json.dumps(summary))
    else:
        table = Table(title="drtriton synth")
        table.add_column("field")
        table.add_column("value")
        for key, value in summary.items():
            table.add_row(key, str(value))
        console.print(table)
    return EXIT_OK


def _print_coverage(report: dict, as_json: bool, console, Table) -> int:
    legal_ops = {name: count for name, (count, legal) in report["ops"].items() if legal}
    pairs = [p for p in report["pairs"] if p[3]]
    summary = {"programs": report["programs"], "stream": report["stream"], "legal_ops": len(legal_ops),
               "covered_ops": sum(1 for c in legal_ops.values() if c),
               "legal_pairs": len(pairs), "covered_pairs": sum(1 for p in pairs if p[2]),
               "ops": report["ops"], "missing_pairs": [p[:2] for p in pairs if not p[2]]}
    if as_json:
        print(json.dumps(summary))
        return EXIT_OK
    table = Table(title=f"operator coverage over {report['programs']} programs ({report['stream']} stream)")
    for col in ("operator", "count", "legal"):
        table.add_column(col)
    for name, (count, legal) in sorted(report["ops"].items(), key=lambda kv: -kv[1][0]):
        table.add_row(name, str(count), "yes" if legal else "NO")
    console.print(table)
    pair_table = Table(title="operator-pair coverage")
    for col in ("legal pairs", "covered", "missing (first 20)"):
        pair_table.add_column(col)
    missing = ", ".join(f"{a}->{b}" for a, b in summary["missing_pairs"][:20])
    pair_table.add_row(str(summary["legal_pairs"]), str(summary["covered_pairs"]), missing or "-")
    console.print(pair_table)
    print(f"ops covered {summary['covered_ops']}/{summary['legal_ops']}, pairs covered "
          f"{summary['covered_pairs']}/{summary['legal_pairs']}", file=sys.stderr)
    return EXIT_OK
