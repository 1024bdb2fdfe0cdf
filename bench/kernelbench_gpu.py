"""KernelBench on a GPU: the rule-based proposer and test-time search on levels 1 and 2, fast_p vs eager and
torch.compile. Prints what it measured; writes kernelbench_gpu.json (+ per-run reports) to $OUT or --out.

    python bench/kernelbench_gpu.py --path ~/KernelBench --per-level 12 --out $OUT
    python bench/kernelbench_gpu.py --path tests/bench/fake_kernelbench       # our own layout, no KernelBench

The subset is chosen BEFORE anything runs and stated in the output: within each level the sorted ids are cut
into --per-level contiguous bins (KernelBench groups operator families by id, so bins spread the subset
across families) and one problem per bin is picked by sha256("{seed}:{level}:{stem}"). --per-level 0 runs
every problem. Results are cached under OUT/runs, so a run cut off by a time limit resumes where it stopped.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from drtriton.bench import BenchConfig, discover, resolve_root, run_kernelbench  # noqa: E402
from drtriton.bench.metrics import THRESHOLDS  # noqa: E402
from drtriton.bench.problems import Problem  # noqa: E402
from drtriton.report.kernelbench import fmt_share, fmt_speedup, summary_json, write_reports  # noqa: E402
from drtriton.util.fileio import atomic_write_text  # noqa: E402
from drtriton.util.provenance import Provenance  # noqa: E402

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
    for candidate in (arg, os.environ.get("KERNELBENCH_PATH"), "KernelBench", str(REPO / "KernelBench")):
        if candidate and Path(candidate).expanduser().is_dir():
            path = Path(candidate).expanduser()
            return path, resolve_root(path).resolve() == (FAKE / "KernelBench").resolve()
    print(f"no KernelBench checkout given or found; running our fake layout {FAKE} (NOT KernelBench numbers)")
    return FAKE, True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--path", default=None, help="KernelBench checkout (else $KERNELBENCH_PATH, "
                                                 "./KernelBench, "
                                                 "then our fake layout)")
    ap.add_argument("--levels", default="1,2", help="comma-separated levels (default 1,2)")
    ap.add_argument("--proposers", default="rule,search", help="comma-separated proposer specs")
    ap.add_argument("--per-level", type=int, default=8, help="stratified subset size per level (0: all)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the subset choice")
    ap.add_argument("--budget", default="candidates=8,seconds=90", help="search budget per problem")
    ap.add_argument("--policy", default="mixed", help="verifier policy (mixed = headline, hybrid = paper)")
    ap.add_argument("--total-seconds", type=float, default=540.0,
                    help="stop starting new problems after this long overall (default 540: one 10-minute "
                         "command); run the same command again to resume")
    ap.add_argument("--out", default=os.environ.get("OUT", "out/kernelbench_gpu"), help="output folder")
    args = ap.parse_args()

    out = Path(args.out)
    path, fake = find_checkout(args.path)
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    proposers = [x.strip() for x in args.proposers.split(",") if x.strip()]
    subsets = {lv: stratified_subset(discover(path, lv), args.per_level, args.seed) for lv in levels}
    prov = Provenance.here()
    print(f"device {prov.device}  torch {prov.torch}  triton {prov.triton}  checkout {path}"
          f"{'  (FAKE layout)' if fake else ''}")
    for lv, subset in subsets.items():
        print(f"level {lv}: subset chosen before running ({len(subset)} problems, per-level "
              f"{args.per_level}, "
              f"seed {args.seed}): ids {[p.problem_id for p in subset]}")
    if prov.device == "cpu":
        print("no GPU visible: fast_0 is measured, every speed figure will be 'not measured'")

    record: dict = {"checkout": str(path), "fake_layout": fake, "provenance": prov.to_json(),
                    "subset": {str(lv): [p.stem for p in s] for lv, s in subsets.items()},
                    "subset_rule": f"stratified by id bins, per_level={args.per_level}, seed={args.seed}",
                    "budget": args.budget, "policy": args.policy, "runs": []}
    began = time.perf_counter()
    for spec in proposers:  # proposer-major: the cheap rule-based runs finish before search spends the time
        for lv in levels:
            ids = ",".join(str(p.problem_id) for p in subsets[lv])
            start = time.perf_counter()
            left = args.total_seconds - (start - began)
            if left <= 0:
                print(f"\nlevel {lv}  proposer {spec}: not started (--total-seconds {args.total_seconds:g} "
                      "spent); "
                      "run the same command again to resume")
                record["runs"].append({"level": lv, "proposer": spec, "not_started": True})
                continue
            config = BenchConfig(path=path, level=lv, proposer=spec, problems=ids, budget=args.budget,
                                 out=out / "runs", policy=args.policy, max_seconds=left)

            def progress(phase: str, done: int, total: int, key: str, _spec: str = spec) -> None:
                if key:
                    print(f"  [{_spec} L{lv}] {phase} {done + 1}/{total} {key}", file=sys.stderr, flush=True)

            run = run_kernelbench(config, progress=progress)
            reports = write_reports(run)
            wall = time.perf_counter() - start
            head = run.summary.headline
            print(f"\nlevel {lv}  proposer {spec}  ({head.n} headline problems, {run.summary.degenerate.n} "
                  f"degenerate, wall {wall:.0f}s, {run.n_cached} from cache)")
            print(f"  {'baseline':<10}" + "".join(f"{'fast_' + format(p, 'g'):>14}" for p in THRESHOLDS)
                  + f"{'geo(correct)':>15}{'geo(all)':>14}")
            for baseline, f in head.vs.items():
                print(f"  {baseline:<10}" + "".join(f"{fmt_share(v):>14}" for v in f.fast.values())
                      + f"{'none correct' if not f.n_correct else fmt_speedup(f.geomean_correct):>15}"
                      + f"{fmt_speedup(f.geomean_all):>14}")
            print("  verdicts: " + ", ".join(f"{s}={c}" for s, c in head.counts.items() if c))
            for w in run.warnings:
                print(f"  warning: {w}")
            record["runs"].append({**summary_json(run), "wall_seconds": wall,
                                   "rows": [r.to_json() for r in run.rows],
                                   "reports": {k: str(v) for k, v in reports.items()}})
            atomic_write_text(out / "kernelbench_gpu.json", json.dumps(record, indent=1) + "\n")
    print(f"\nwrote {out / 'kernelbench_gpu.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
