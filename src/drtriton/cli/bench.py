"""drtriton bench: run KernelBench from a user's checkout through a proposer and the verifier; fast_p reports.

    drtriton bench kernelbench --path ~/KernelBench --level 1 --proposer rule --out runs/kb
    drtriton bench kernelbench --path ~/KernelBench --level 2 --proposer solutions:my_kernels --problems 1-20
    drtriton bench split --path ~/KernelBench --fraction 0.3 --seed 0 --out splits/kernelbench.json
    drtriton bench compare runs/kb --out runs/kb/compare.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from drtriton.bench import BenchConfig, run_kernelbench, save_split, split_checkout
from drtriton.bench.degenerate import DegenerateConfig
from drtriton.report.compare import compare_table, find_summaries, load_summary
from drtriton.report.kernelbench import Section, render_markdown, summary_json, write_reports
from drtriton.report.tables import render_bench, table
from drtriton.util.errors import EXIT_OK
from drtriton.util.fileio import atomic_write_text


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="KernelBench fast_p vs eager and torch.compile, from your checkout")
    kinds = p.add_subparsers(dest="bench_command", metavar="BENCH", required=True)

    kb = kinds.add_parser("kernelbench", help="run every problem of a level through a proposer and the verifier")
    kb.add_argument("--path", type=Path, required=True,
                    help="KernelBench checkout root (holding KernelBench/level1 …) or its KernelBench/ folder")
    kb.add_argument("--level", type=int, required=True, help="level to run: 1, 2, 3 …")
    kb.add_argument("--problems", default=None, help="problem ids, e.g. 1-10,23 (default: all of the level)")
    kb.add_argument("--proposer", default="rule",
                    help="rule | search | model:DIR | solutions:DIR (DIR/level{N}/{id}_*.py or DIR/{stem}.py)")
    kb.add_argument("--budget", default=None,
                    help="search/model bound per problem: 64 (candidates), 300s, or candidates=64,seconds=300")
    kb.add_argument("--out", type=Path, default=Path("runs/kernelbench"),
                    help="results, caches and reports go under OUT/level{N}/{proposer}/ (default runs/kernelbench)")
    kb.add_argument("--split", choices=["heldout", "tune"], default=None,
                    help="run only this part of the held-out split (see drtriton bench split)")
    kb.add_argument("--split-file", type=Path, default=None,
                    help="split file (default OUT/split.json, recorded on first use)")
    kb.add_argument("--split-fraction", type=float, default=0.3, help="held-out share when a split is "
                                                                      "recorded")
    kb.add_argument("--split-seed", type=int, default=0, help="seed of a newly recorded split")
    kb.add_argument("--policy", choices=["strict", "mixed", "hybrid"], default="mixed",
                    help="verifier policy: mixed (headline) allows conv/matmul library calls; hybrid = paper")
    kb.add_argument("--tolerance", default="default",
                    help="default (1e-4) | kernelbench (1e-2, the field's loose mode) | a number")
    kb.add_argument("--degenerate-timeout", type=float, default=300.0,
                    help="seconds allowed per reference check (default 300)")
    kb.add_argument("--no-degenerate-check", action="store_true",
                    help="skip the degenerate-reference check (rows are then 'unchecked', still reported)")
    kb.add_argument("--workers", type=int, default=None,
                    help="problems verified at once (default: 1 without a GPU, else 2-4 by CPU count; GPU timing "
                         "stays one at a time)")
    kb.add_argument("--max-seconds", type=float, default=None,
                    help="stop starting new problems after this many seconds (a later run resumes)")
    kb.add_argument("--no-resume", action="store_true", help="recompute every problem instead of reusing "
                                                             "the cache")
    kb.add_argument("--quiet", action="store_true", help="omit the per-problem table")
    kb.add_argument("--json", action="store_true", help="print one JSON object (the summary) instead of "
                                                        "tables")
    kb.set_defaults(run=run)

    cp = kinds.add_parser("compare", help="one fast_p table over several runs (compare generators)")
    cp.add_argument("runs", type=Path, nargs="+", help="run folders or summary.json files (searched "
                                                       "recursively)")
    cp.add_argument("--out", type=Path, default=None, help="also write the table as markdown to this file")
    cp.add_argument("--json", action="store_true", help="print the rows as one JSON object")
    cp.set_defaults(run=run)

    sp = kinds.add_parser("split", help="record a fixed held-out subset of a checkout (stratified by level)")
    sp.add_argument("--path", type=Path, required=True, help="KernelBench checkout root or its "
                                                             "KernelBench/ folder")
    sp.add_argument("--fraction", type=float, default=0.3, help="share of each level held out (default 0.3)")
    sp.add_argument("--seed", type=int, default=0, help="seed of the selection (default 0)")
    sp.add_argument("--out", type=Path, required=True, help="split file to write (JSON)")
    sp.add_argument("--json", action="store_true", help="print the split as one JSON object")
    sp.set_defaults(run=run)


class _Bar:
    """Progress bar on stderr: one task per phase (reference check, then propose + verify)."""

    def __init__(self) -> None:
        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("{task.fields[item]}")]
        self.progress = Progress(*columns, console=Console(file=sys.stderr), transient=False)
        self.tasks: dict[str, int] = {}

    def __call__(self, phase: str, done: int, total: int, item: str) -> None:
        if not self.tasks:
            self.progress.start()  # started lazily: a usage error before any work prints no empty bar
        if phase not in self.tasks:
            label = "reference check" if phase == "reference" else "propose + verify"
            self.tasks[phase] = self.progress.add_task(label, total=total, item="")
        self.progress.update(self.tasks[phase], completed=done, total=total, item=item)


def _run_split(args: argparse.Namespace) -> int:
    split = split_checkout(args.path, args.fraction, args.seed)
    save_split(split, args.out)
    if args.json:
        print(json.dumps(split.to_json()))
        return EXIT_OK
    for level in sorted(split.heldout):
        print(f"level {level}: {len(split.heldout[level])} held out, {len(split.tune[level])} for tuning")
    print(f"wrote {args.out}")
    return EXIT_OK


def _run_compare(args: argparse.Namespace) -> int:
    header, rows = compare_table([load_summary(p) for p in find_summaries(args.runs)])
    if args.out:
        atomic_write_text(args.out, render_markdown("KernelBench comparison", [Section("Headline", tables=[
            (header, rows)])], args.out.parent))
    if args.json:
        print(json.dumps({"header": header, "rows": rows}))
    else:
        Console().print(table("KernelBench comparison (headline: degenerate excluded)", header, rows))
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    if args.bench_command == "split":
        return _run_split(args)
    if args.bench_command == "compare":
        return _run_compare(args)
    config = BenchConfig(
        path=args.path, level=args.level, proposer=args.proposer, problems=args.problems, budget=args.budget,
        out=args.out, split=args.split, split_file=args.split_file, split_fraction=args.split_fraction,
        split_seed=args.split_seed, check_degenerate=not args.no_degenerate_check,
        degenerate=DegenerateConfig(timeout_s=args.degenerate_timeout), resume=not args.no_resume,
        policy=args.policy, tolerance=args.tolerance, max_seconds=args.max_seconds, workers=args.workers)
    bar = _Bar()
    try:
        result = run_kernelbench(config, progress=bar)
    finally:
        bar.progress.stop()
    paths = write_reports(result)
    if args.json:
        print(json.dumps({**summary_json(result), "reports": {k: str(v) for k, v in paths.items()}}))
        return EXIT_OK
    render_bench(result, Console(), per_problem=not args.quiet)
    print(f"reports: {paths['markdown']}  {paths['html']}  {paths['csv']}")
    return EXIT_OK
