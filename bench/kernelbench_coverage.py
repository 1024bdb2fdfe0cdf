"""KernelBench coverage on CPU: for every problem, does our importer + rule-based code generator produce a
ModelNew? Import and compile only (shapes from the meta device, no kernel runs); prints a table by failure
reason and the unmapped operators, writes every row to JSON.

    PYTHONPATH=src python bench/kernelbench_coverage.py --path external/KernelBench --out out/coverage.json
    PYTHONPATH=src python bench/kernelbench_coverage.py --path tests/bench/fake_kernelbench --levels 1,2

Resumable: rows already in --out for the same problem digest and policy are kept (--no-resume recomputes).

--check also RUNS every covered problem at reduced shapes (module-level integer constants above 16 become 16,
`batch_size` becomes 2; tuples built from them follow), ModelNew against Model in training mode (as KernelBench
calls them) under TRITON_INTERPRET=1, two input seeds, |new - ref| <= 1e-4 + 1e-4 |ref| (the verifier's
default), one subprocess per problem (--check-timeout). Reduced shapes can make a problem degenerate (a
norm over one element); the row's max error and output spread are recorded so such rows can be read as such.
    PYTHONPATH=src python bench/kernelbench_coverage.py --path external/KernelBench --levels 2 --check
"""

from __future__ import annotations

import argparse
import ast
import collections
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from drtriton.bench.coverage import COVERAGE_VERSION, CoverageChecker, CoverageRow, reason_key, root_causes
from drtriton.bench.problems import available_levels, discover, resolve_root
from drtriton.util.fileio import atomic_write_text
from drtriton.util.provenance import Provenance


SHRINK_TO = 16  # reduced extent for every module-level int above it: small enough for the interpreter
SHRINK_BATCH = 2


SPATIAL_NAMES = ("depth", "height", "width", "length")


def shrink_source(src: str, spatial: int = SHRINK_TO) -> str:
    """The problem's source with module-level integer constants reduced (`batch_size = 128` -> 2,
    `height, width = 128, 128` -> `spatial`, others above SHRINK_TO -> SHRINK_TO); expressions built from
    them (bias_shape) follow. A smaller `spatial` keeps a strided transposed conv's output width equal to a
    shrunk channel count when the problem ties the two (a LayerNorm over the last axis)."""
    tree = ast.parse(src)

    def small(name: str, node: ast.expr) -> ast.expr:
        if all(isinstance(x, (ast.Constant, ast.BinOp, ast.UnaryOp, ast.operator, ast.unaryop))
               for x in ast.walk(node)) and not isinstance(node, ast.Constant):  # `M = 1024 * 2`
            try:
                node = ast.Constant(eval(compile(ast.Expression(node), "<const>", "eval")))  # noqa: S307 - literals
            except Exception:  # noqa: BLE001 - not a plain number
                return node
        if isinstance(node, ast.Constant) and type(node.value) is int and node.value > SHRINK_TO:
            if name == "batch_size":
                return ast.Constant(SHRINK_BATCH)
            return ast.Constant(spatial if any(s in name for s in SPATIAL_NAMES) else SHRINK_TO)
        return node

    for stmt in tree.body:
        if not isinstance(stmt, ast.Assign) or len(stmt.targets) != 1:
            continue
        t = stmt.targets[0]
        if isinstance(t, ast.Name):
            if isinstance(stmt.value, ast.Tuple):
                stmt.value.elts = [small(t.id, e) for e in stmt.value.elts]
            else:
                stmt.value = small(t.id, stmt.value)
        elif isinstance(t, ast.Tuple) and isinstance(stmt.value, ast.Tuple):
            stmt.value.elts = [small(getattr(n, "id", ""), e) for n, e in zip(t.elts, stmt.value.elts)]
    return ast.unparse(tree)


def check_one(problem_file: str, policy: str) -> dict:
    """Compiles the shrunk problem and compares ModelNew with Model on two seeds (runs in a subprocess)."""
    import torch

    from drtriton.frontend import CompileConfig, compile_problem

    text = Path(problem_file).read_text(encoding="utf-8")
    for spatial in (SHRINK_TO, SHRINK_TO // 2):
        src = shrink_source(text, spatial)
        try:  # the shrink can break a problem's own shape constraints (a LayerNorm width tied to a conv output)
            ns: dict = {"__name__": "drtriton_check"}
            exec(compile(src, "<check>", "exec"), ns)  # noqa: S102 - the user's problem
            torch.manual_seed(0)
            with torch.no_grad():
                ns["Model"](*ns["get_init_inputs"]())(*ns["get_inputs"]())
            break
        except Exception as exc:  # noqa: BLE001
            why = f"reference fails at reduced shapes ({type(exc).__name__}); not checked"
    else:
        return {"ok": None, "why": why}
    solution = compile_problem(src, CompileConfig(policy=policy)).source
    spaces = []
    for text in (src, solution):
        ns: dict = {"__name__": "drtriton_check"}
        exec(compile(text, "<check>", "exec"), ns)  # noqa: S102 - the user's problem and our generated code
        spaces.append(ns)
    prob, sol = spaces
    torch.manual_seed(42)
    model = prob["Model"](*prob["get_init_inputs"]())
    torch.manual_seed(42)
    model_new = sol["ModelNew"](*prob["get_init_inputs"]())
    worst, spread = 0.0, 0.0
    for seed in (0, 1):
        torch.manual_seed(seed)
        inputs = prob["get_inputs"]()
        with torch.no_grad():
            ref = model(*inputs)
            out = model_new(*[t.clone() if isinstance(t, torch.Tensor) else t for t in inputs])
        ref, out = (r if isinstance(r, (tuple, list)) else (r,) for r in (ref, out))
        if len(ref) != len(out):
            return {"ok": False, "why": f"{len(out)} outputs, reference has {len(ref)}"}
        for r, o in zip(ref, out):
            if r.shape != o.shape or r.dtype != o.dtype:
                return {"ok": False, "why": f"output {tuple(o.shape)} {o.dtype}, reference {tuple(r.shape)} {r.dtype}"}
            r64, o64 = r.double(), o.double()
            both_special = (r64 == o64) | (r64.isnan() & o64.isnan())
            err = (o64 - r64).abs().masked_fill(both_special, 0.0)
            if r.numel():
                worst = max(worst, err.max().item())
                spread = max(spread, (r64.max() - r64.min()).item())
            if bool((err > 1e-4 + 1e-4 * r64.abs()).any()) or bool(err.isnan().any()):
                return {"ok": False, "why": f"max |err| {err.max().item():.3g}", "max_err": worst}
    return {"ok": True, "max_err": worst, "ref_spread": spread}


def run_checks(problems: dict, policy: str, timeout: float) -> dict[str, dict]:
    """check_one for each problem key -> path, each in its own subprocess under TRITON_INTERPRET=1."""
    env = {**os.environ, "TRITON_INTERPRET": "1", "PYTHONPATH": str(REPO / "src")}
    results = {}
    for i, (key, path) in enumerate(problems.items()):
        began = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, __file__, "--path", ".", "--check-one", str(path), "--policy", policy],
                                  capture_output=True, text=True, timeout=timeout, env=env, check=False)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
            res = json.loads(lines[-1]) if lines else {
                "ok": False, "why": (proc.stderr.strip().splitlines() or ["no output"])[-1][:300]}
        except subprocess.TimeoutExpired:
            res = {"ok": False, "why": f"timeout after {timeout:.0f}s"}
        res["seconds"] = round(time.perf_counter() - began, 1)
        results[key] = res
        print(f"[check {i + 1}/{len(problems)}] {key}: {'correct' if res['ok'] else res['why']}",
              file=sys.stderr, flush=True)
    return results


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
    ap.add_argument("--check", action="store_true", help="also run each covered problem at reduced shapes")
    ap.add_argument("--check-timeout", type=float, default=300.0, help="seconds per problem for --check")
    ap.add_argument("--check-one", default=None, help=argparse.SUPPRESS)  # the --check subprocess
    args = ap.parse_args(argv)
    if args.check_one:
        try:
            res = check_one(args.check_one, args.policy)
        except Exception as exc:  # noqa: BLE001 - any failure is this problem's result
            res = {"ok": False, "why": f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ''}"}
        print(json.dumps(res))
        return 0

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
    paths: dict[str, Path] = {}
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
                paths[p.key] = p.path
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
    if args.check:
        checks = run_checks({r.problem: paths[r.problem] for r in rows if r.outcome == "ok"}, args.policy,
                            args.check_timeout)
        print("\ncorrect at reduced shapes (TRITON_INTERPRET=1, atol=rtol=1e-4):")
        for lv, rs in sorted(by_level.items()):
            done = [checks[r.problem] for r in rs if r.problem in checks]
            good = sum(c["ok"] is True for c in done)
            unchecked = sum(c["ok"] is None for c in done)
            summary[str(lv)]["correct_reduced"] = good
            summary[str(lv)]["unchecked_reduced"] = unchecked
            print(f"  level {lv}: {good} of {len(done)} covered problems correct, {unchecked} not checkable")
        for key, c in checks.items():
            if c["ok"] is not True:
                print(f"  {'WRONG' if c['ok'] is False else 'UNCHECKED'} {key}: {c['why']}")
        record["checks"] = checks
    record["summary"] = {"by_level": summary, "wall_seconds": wall,
                         "failure_reasons": {k: [r.problem for r in v] for k, v in groups.items()},
                         "unmapped_root_causes": dict(causes)}
    atomic_write_text(args.out, json.dumps(record, indent=1) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
