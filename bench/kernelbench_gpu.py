"""KernelBench on a GPU: the rule-based proposer and test-time search on a stratified subset of levels 1 and 2,
fast_p vs eager and torch.compile. Prints progress and what it measured; writes under --out ($OUT):
kernelbench_gpu.json / .csv / .md (combined), subset.json (written before anything runs) and per-run reports
(runs/level{N}/{proposer}/report.md with plots, results.csv).

    python bench/kernelbench_gpu.py --path external/KernelBench --out $OUT          # 25 + 25, ~8 minutes
    python bench/kernelbench_gpu.py --path external/KernelBench --out $OUT          # run again: resumes
    python bench/kernelbench_gpu.py --path tests/bench/fake_kernelbench              # our own layout

The subset is chosen BEFORE anything runs, from every problem of the level (our coverage is not consulted),
and stated in the output: the id-sorted problems are cut into --per-level contiguous bins (KernelBench groups
operator families by id) and one problem per bin is picked by sha256("{seed}:{level}:{stem}"). --per-level 0
runs every problem. Time: --total-seconds stops starting new problems (the rule runs go first, then search);
each candidate's verification is capped by --problem-timeout and each search by --budget. Every finished
problem is cached under OUT/runs, so the same command resumes where a time limit stopped it.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from drtriton.bench import BenchConfig, discover, resolve_root, run_kernelbench
from drtriton.bench.degenerate import DegenerateConfig
from drtriton.bench.metrics import THRESHOLDS
from drtriton.bench.problems import Problem
from drtriton.bench.proposers import slug
from drtriton.report.kernelbench import fastp_table, fmt_share, fmt_speedup, summary_json, write_reports
from drtriton.util.fileio import atomic_write_text
from drtriton.util.provenance import Provenance

FAKE = REPO / "tests" / "bench" / "fake_kernelbench"


def stratified_subset(problems: list[Problem], k: int, seed: int) -> list[Problem]:
    """k problems: the id-sorted list cut into k contiguous bins, one pick per bin by a seeded hash."""
    if k <= 0 or k >= len(problems):
        return list(problems)
    ordered = sorted(problems, key=lambda p: p.problem_id)
    chosen = []
    for b in range(k):
        bin_ = ordered[b * len(ordered) // k:(b + 1) * len(ordered) // k]
        chosen.append(min(bin_, key=lambda p: hashlib.sha256(f"{seed}:{p.level}:{p.stem}".encode()).hexdigest()))
    return chosen


def find_checkout(arg: str | None) -> tuple[Path, bool]:
    """The checkout to run, and whether it is our fake layout (then the numbers are not KernelBench's)."""
    for candidate in (arg, os.environ.get("KERNELBENCH_PATH"), "external/KernelBench", "KernelBench"):
        if candidate and Path(candidate).expanduser().is_dir():
            path = Path(candidate).expanduser()
            return path, resolve_root(path).resolve() == (FAKE / "KernelBench").resolve()
    print(f"no KernelBench checkout given or found; running our fake layout {FAKE} (NOT KernelBench numbers)")
    return FAKE, True


def print_table(run, wall: float) -> None:
    head = run.summary.headline
    print(f"\nlevel {run.config.level}  proposer {run.proposer}  ({head.n} headline problems, "
          f"{run.summary.degenerate.n} degenerate, {len(run.not_run)} not run, wall {wall:.0f}s, "
          f"{run.n_cached} from cache)")
    print(f"  {'baseline':<10}" + "".join(f"{'fast_' + format(p, 'g'):>14}" for p in THRESHOLDS)
          + f"{'geo(correct)':>15}{'geo(all)':>14}")
    for baseline, f in head.vs.items():
        print(f"  {baseline:<10}" + "".join(f"{fmt_share(v):>14}" for v in f.fast.values())
              + f"{'none correct' if not f.n_correct else fmt_speedup(f.geomean_correct):>15}"
              + f"{fmt_speedup(f.geomean_all):>14}")
    print("  verdicts: " + ", ".join(f"{s}={c}" for s, c in head.counts.items() if c))
    for w in run.warnings:
        print(f"  warning: {w}")


def combined_markdown(record: dict, runs: list, out: Path) -> str:
    """One page: versions, the subset, a fast_p table per (level, proposer), rule vs search per problem."""
    prov = record["provenance"]
    lines = ["# KernelBench on the GPU: rule-based proposer and search", "",
             (f"Device {prov['device']}, host {prov['host']}; drtriton {prov['drtriton']}, torch {prov['torch']}, "
              f"triton {prov['triton']}, python {prov['python']}. Checkout: `{record['checkout']}`"
              f"{' (our FAKE layout, not KernelBench)' if record['fake_layout'] else ''}."), "",
             f"Subset ({record['subset_rule']}), chosen before running from every problem of each level:", ""]
    for lv, stems in record["subset"].items():
        lines.append(f"- level {lv} ({len(stems)}): ids {[int(s.split('_')[0]) for s in stems]}")
    lines += ["", (f"Verifier: policy {record['policy']}, tolerance {record['tolerance']}, per-candidate timeout "
                   f"{record['problem_timeout']:g}s; search budget {record['budget']} per problem."), "",
              ("fast_p = share of all problems correct and more than p times faster (strict); geomean (all) "
               "counts a problem without a correct kernel as 1.0x. Degenerate references are excluded from these "
               "headline tables (see each run's report). 'not measured' = no timing."), ""]
    for run in runs:
        header, rows = fastp_table(run.summary.headline)
        counts = ", ".join(f"{s} {c}" for s, c in run.summary.headline.counts.items() if c)
        report = run.run_dir / "report.md"
        lines += [f"## level {run.config.level}, {run.proposer}", "",
                  (f"{run.summary.headline.n} headline problems ({counts}); {len(run.not_run)} not run "
                   f"(time limit). Report: [{report.relative_to(out)}]({report.relative_to(out)})."), "",
                  "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        lines.append("")
        for img in ("speedup_distribution", "per_problem"):
            path = run.run_dir / "plots" / f"{img}.png"
            if path.exists():
                lines += [f"![{img}]({path.relative_to(out)})", ""]
    by_key: dict[tuple[int, int], dict[str, object]] = {}
    for run in runs:
        for r in run.rows:
            by_key.setdefault((r.level, r.problem_id), {"name": r.name})[run.proposer] = r
    if any(len(v) > 2 for v in by_key.values()):
        specs = list(dict.fromkeys(run.proposer for run in runs))
        lines += ["## Per problem", "", "| level | id | name | " + " | ".join(
            f"{s} status | {s} vs eager | {s} vs compile" for s in specs) + " |",
            "|" + "---|" * (3 + 3 * len(specs))]
        for (lv, pid), v in sorted(by_key.items()):
            cells = [str(lv), str(pid), str(v["name"])]
            for s in specs:
                r = v.get(s)
                cells += ([r.status, fmt_speedup(r.speedup_vs_eager) if r.correct else "",
                           fmt_speedup(r.speedup_vs_compile) if r.correct else ""] if r else ["not run", "", ""])
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def combined_csv(runs: list) -> str:
    buf = io.StringIO()
    rows = [r.to_json() for run in runs for r in run.rows]
    if not rows:
        return ""
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})  # empty = not measured
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--path", default=None, help="KernelBench checkout (else $KERNELBENCH_PATH, "
                                                 "external/KernelBench, ./KernelBench, then our fake layout)")
    ap.add_argument("--levels", default="1,2", help="comma-separated levels (default 1,2)")
    ap.add_argument("--proposers", default="rule,search", help="comma-separated proposer specs, run in order")
    ap.add_argument("--per-level", type=int, default=25, help="stratified subset size per level (0: all)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the subset choice")
    ap.add_argument("--budget", default="candidates=3,seconds=20",
                    help="search budget per problem (candidates verified, wall seconds)")
    ap.add_argument("--policy", default="mixed", help="verifier policy (mixed = headline, hybrid = paper)")
    ap.add_argument("--tolerance", default="default", help="default (1e-4) or kernelbench (1e-2)")
    ap.add_argument("--problem-timeout", type=float, default=90.0,
                    help="seconds one candidate's verification may take (compile, checks, timing)")
    ap.add_argument("--total-seconds", type=float, default=480.0,
                    help="stop starting new problems after this long overall (default 480: ~8 minutes); run "
                         "the same command again to resume")
    ap.add_argument("--workers", type=int, default=None,
                    help="problems verified at once (default: 2-4 by CPU count on a GPU machine)")
    ap.add_argument("--out", default=os.environ.get("OUT", "out/kernelbench_gpu"), help="output folder")
    args = ap.parse_args(argv)

    from drtriton.verify import VerifyConfig

    began = time.perf_counter()
    out = Path(args.out)
    path, fake = find_checkout(args.path)
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    proposers = [x.strip() for x in args.proposers.split(",") if x.strip()]
    subsets = {lv: stratified_subset(discover(path, lv), args.per_level, args.seed) for lv in levels}
    prov = Provenance.here()
    rule = (f"stratified by id: {args.per_level or 'all'} contiguous id bins per level, one problem per bin by "
            f"sha256(seed:level:stem), seed {args.seed}")
    record: dict = {"checkout": str(path), "fake_layout": fake, "provenance": prov.to_json(),
                    "subset": {str(lv): [p.stem for p in s] for lv, s in subsets.items()}, "subset_rule": rule,
                    "budget": args.budget, "policy": args.policy, "tolerance": args.tolerance,
                    "problem_timeout": args.problem_timeout, "total_seconds": args.total_seconds, "runs": []}
    atomic_write_text(out / "subset.json", json.dumps({k: record[k] for k in ("checkout", "subset", "subset_rule")},
                                                      indent=1) + "\n")
    print(f"device {prov.device}  torch {prov.torch}  triton {prov.triton}  checkout {path}"
          f"{'  (FAKE layout)' if fake else ''}")
    for lv, subset in subsets.items():
        print(f"level {lv}: subset chosen before running ({len(subset)} problems; {rule}): "
              f"ids {[p.problem_id for p in subset]}")
    if prov.device == "cpu":
        print("no GPU visible: fast_0 is measured, every speed figure will be 'not measured'")

    verify_config = VerifyConfig.with_tolerance(args.tolerance, policy=args.policy, timeout_s=args.problem_timeout)
    runs = []
    for spec in proposers:  # proposer-major: the cheap rule-based runs finish before search spends the time
        for lv in levels:
            start = time.perf_counter()
            left = args.total_seconds - (start - began)
            ids = ",".join(str(p.problem_id) for p in subsets[lv])
            if left <= 0:
                print(f"\nlevel {lv}  proposer {spec}: not started (--total-seconds {args.total_seconds:g} spent); "
                      "run the same command again to resume")
                record["runs"].append({"level": lv, "proposer": spec, "not_started": True})
                continue
            config = BenchConfig(path=path, level=lv, proposer=spec, problems=ids, budget=args.budget,
                                 out=out / "runs", policy=args.policy, tolerance=args.tolerance,
                                 verify_config=verify_config, max_seconds=left, workers=args.workers,
                                 degenerate=DegenerateConfig(timeout_s=max(30.0, args.problem_timeout)))

            def progress(phase: str, done: int, total: int, key: str, _spec: str = spec, _lv: int = lv) -> None:
                if key:
                    print(f"  [{time.perf_counter() - began:5.0f}s {_spec} L{_lv}] {phase} {done + 1}/{total} {key}",
                          file=sys.stderr, flush=True)

            run = run_kernelbench(config, progress=progress)
            reports = write_reports(run)
            wall = time.perf_counter() - start
            print_table(run, wall)
            runs.append(run)
            record["runs"].append({**summary_json(run), "wall_seconds": wall, "slug": slug(spec),
                                   "rows": [r.to_json() for r in run.rows],
                                   "reports": {k: str(v) for k, v in reports.items()}})
            atomic_write_text(out / "kernelbench_gpu.json", json.dumps(record, indent=1) + "\n")
    record["wall_seconds"] = time.perf_counter() - began
    atomic_write_text(out / "kernelbench_gpu.json", json.dumps(record, indent=1) + "\n")
    atomic_write_text(out / "kernelbench_gpu.csv", combined_csv(runs))
    atomic_write_text(out / "kernelbench_gpu.md", combined_markdown(record, runs, out))
    print(f"\nwrote {out / 'kernelbench_gpu.json'}, {out / 'kernelbench_gpu.csv'}, {out / 'kernelbench_gpu.md'} "
          f"(total wall {record['wall_seconds']:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
