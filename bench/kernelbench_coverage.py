"""KernelBench coverage on CPU: for every problem, does our importer + rule-based code generator produce a
ModelNew? Import and compile only (shapes from the meta device, no kernel runs); prints a table by failure
reason and the unmapped operators, writes every row to JSON.

    PYTHONPATH=src python bench/kernelbench_coverage.py --path external/KernelBench --out out/coverage.json
    PYTHONPATH=src python bench/kernelbench_coverage.py --path tests/bench/fake_kernelbench --levels 1,2

Resumable: rows already in --out for the same problem digest and policy are kept (--no-resume recomputes).
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from drtriton.bench.coverage import COVERAGE_VERSION, CoverageChecker, CoverageRow, reason_key, root_causes
from drtriton.bench.problems import available_levels, discover, resolve_root
from drtriton.util.fileio import atomic_write_text
from drtriton.util.provenance import Provenance


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--path", required=True, help="KernelBench checkout root or its KernelBench/ folder")
    ap.add_argument("--levels", default="1,2,3", help="comma-separated levels (default 1,2,3)")
    ap.add_argument("--problems", default=None, help="ids within each level, e.g. 1-10,23 (default all)")
    ap.add_argument("--policy", default="mixed", choices=["strict", "mixed", "hybrid"])
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per problem")
    ap.add_argument("--out", type=Path, default=Path("out/kernelbench_coverage.json"))
    ap.add_argument("--no-resume", action="store_true", help="recompute rows already in --out")
    ap.add_argument("--top", type=int, default=25, help="failure reasons shown in the table")
    args = ap.parse_args(argv)

    root = resolve_root(args.path)
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    missing = [lv for lv in levels if lv not in available_levels(root)]
    if missing:
        print(f"--levels {missing} not in {root} (has {available_levels(root)}); drop them", file=sys.stderr)
        return 2
    old: dict[str, dict] = {}
    if args.out.exists() and not args.no_resume:
        prev = json.loads(args.out.read_text(encoding="utf-8"))
        if prev.get("policy") == args.policy and prev.get("coverage_version") == COVERAGE_VERSION:
            old = {r["problem"]: r for r in prev.get("rows", [])}
    prov = Provenance.here()
    record = {"checkout": str(root), "policy": args.policy, "coverage_version": COVERAGE_VERSION, "provenance": prov.to_json(),
              "method": "import + compile only; shapes on the meta device (real tensors when meta fails and "
                        "inputs are small); no kernel runs", "rows": []}
    rows: list[CoverageRow] = []
    began = time.perf_counter()
    with CoverageChecker(policy=args.policy, timeout_s=args.timeout) as checker:
        for lv in levels:
            problems = discover(root, lv, args.problems)
            for i, p in enumerate(problems):
                prev = old.get(p.key)
                if prev and prev.get("sha256") == p.sha256:
                    row = CoverageRow(**{k: v for k, v in prev.items() if k != "sha256"})
                else:
                    row = checker.check(p.key, p.source())
                rows.append(row)
                record["rows"].append({**row.to_json(), "sha256": p.sha256})
                mark = "ok" if row.outcome == "ok" else reason_key(row)
                print(f"[{i + 1}/{len(problems)}] {p.key}: {mark}", file=sys.stderr, flush=True)
                if (i + 1) % 10 == 0 or i + 1 == len(problems):  # resumable: keep what is done
                    atomic_write_text(args.out, json.dumps(record, indent=1) + "\n")
    wall = time.perf_counter() - began

    print(f"\nKernelBench coverage, policy {args.policy}: {root}  (torch {prov.torch}, wall {wall:.0f}s)")
    print(f"{'level':>5} {'problems':>9} {'ModelNew':>9} {'share':>7}")
    by_level: dict[int, list[CoverageRow]] = collections.defaultdict(list)
    for r in rows:
        by_level[int(r.problem.split("/")[0].removeprefix("level"))].append(r)
    summary = {}
    for lv, rs in sorted(by_level.items()):
        ok = sum(r.outcome == "ok" for r in rs)
        summary[str(lv)] = {"problems": len(rs), "ok": ok,
                            "outcomes": dict(collections.Counter(r.outcome for r in rs))}
        print(f"{lv:>5} {len(rs):>9} {ok:>9} {ok / len(rs):>7.0%}")
    print("\nfailures by reason (count, levels, first problems):")
    groups: dict[str, list[CoverageRow]] = collections.defaultdict(list)
    for r in rows:
        if r.outcome != "ok":
            groups[reason_key(r)].append(r)
    for reason, rs in sorted(groups.items(), key=lambda kv: -len(kv[1]))[:args.top]:
        lvls = sorted({r.problem.split("/")[0] for r in rs})
        print(f"  {len(rs):>3}  {reason}  [{','.join(lvls)}]  e.g. {', '.join(r.problem for r in rs[:3])}")
    causes = collections.Counter(c for r in rows for c in root_causes(r))
    print("\nunmapped operations, root causes only (problems blocked by each; a problem may have several):")
    for cause, n in causes.most_common(args.top):
        print(f"  {n:>3}  {cause[:130]}")
    record["summary"] = {"by_level": summary, "wall_seconds": wall,
                         "failure_reasons": {k: [r.problem for r in v] for k, v in groups.items()},
                         "unmapped_root_causes": dict(causes)}
    atomic_write_text(args.out, json.dumps(record, indent=1) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
