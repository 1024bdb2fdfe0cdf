"""drtriton verify PROBLEM.py SOLUTION.py: check one candidate kernel against its problem.

    drtriton verify tests/problems/relu.py out/relu_new.py --json
    drtriton verify --rules                      # the anti-cheat rule table
Exit 0 correct and honest, 1 rejected (any other status), 2 usage error.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from drtriton.util.errors import EXIT_OK, EXIT_REJECTED, UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="check one candidate kernel (exit 0 correct, 1 rejected)")
    p.add_argument("problem", type=Path, nargs="?", help="KernelBench-format file defining Model")
    p.add_argument("solution", type=Path, nargs="?", help="candidate file defining ModelNew")
    p.add_argument(
        "--policy",
        choices=["strict", "mixed", "hybrid"],
        default="mixed",
        help="strict: only allocation/layout torch ops in ModelNew.forward; mixed: also conv/matmul "
        "library calls; hybrid: any torch op, Triton must launch and carry --min-triton-share",
    )
    p.add_argument(
        "--tolerance", default="default", help="atol=rtol: default (1e-4), kernelbench (1e-2) or a number"
    )
    p.add_argument("--seeds", type=int, default=5, help="number of input seeds (0..N-1)")
    p.add_argument("--timeout-s", type=float, default=180.0, help="per worker request")
    p.add_argument("--memory-mb", type=int, default=8192, help="worker memory cap")
    p.add_argument(
        "--min-triton-share", type=float, default=0.1, help="hybrid policy: Triton share of GPU time"
    )
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--rules", action="store_true", help="print the anti-cheat rule table and exit")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(run=run)


def _read(path: Path, what: str) -> str:
    if path is None:
        raise UsageError(f"missing {what} file; usage: drtriton verify PROBLEM.py SOLUTION.py")
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"cannot read {what} file {path} ({exc.__class__.__name__}); pass an existing .py file"
        ) from None


def _print_rules(as_json: bool) -> None:
    from drtriton.verify import RULES

    if as_json:
        print(
            json.dumps(
                [
                    {"id": r.id, "kind": r.kind, "status": str(r.status), "rationale": r.rationale}
                    for r in RULES.values()
                ]
            )
        )
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="anti-cheat rules")
    for col in ("rule", "kind", "rationale"):
        table.add_column(col)
    for r in RULES.values():
        table.add_row(r.id, r.kind, r.rationale)
    Console().print(table)


def _render(verdict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"verdict: {verdict.status}", show_header=False)
    table.add_column("field")
    table.add_column("value")
    t = verdict.timing
    rows = [
        ("status", str(verdict.status)),
        ("reason", verdict.reason or "-"),
        ("rule", verdict.rule or "-"),
        ("policy", verdict.policy),
        ("max abs err", _fmt(verdict.max_abs_err)),
        ("max rel err", _fmt(verdict.max_rel_err)),
        ("triton launches/call", _fmt(verdict.triton_launches)),
        ("torch ops in forward", ", ".join(verdict.torch_ops) or "-"),
        ("candidate ms", _fmt(t.candidate_ms if t else None)),
        ("eager ms", _fmt(t.eager_ms if t else None)),
        ("compile ms", _fmt(t.compile_ms if t else None)),
        ("speedup vs eager", _fmt(verdict.speedup_vs_eager)),
        ("speedup vs compile", _fmt(verdict.speedup_vs_compile)),
        ("device", verdict.provenance.device),
        ("notes", "; ".join(verdict.notes) or "-"),
    ]
    for k, v in rows:
        table.add_row(k, str(v))
    Console().print(table)


def _fmt(x) -> str:
    if x is None:
        return "not measured"
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def run(args: argparse.Namespace) -> int:
    if args.rules:
        _print_rules(args.json)
        return EXIT_OK
    problem, solution = _read(args.problem, "problem"), _read(args.solution, "solution")
    if args.seeds < 1:
        raise UsageError(f"--seeds must be a positive integer, got {args.seeds}; pass 5 or more")
    from drtriton.verify import VerifierPool, VerifyConfig

    config = VerifyConfig.with_tolerance(
        args.tolerance,
        policy=args.policy,
        seeds=tuple(range(args.seeds)),
        timeout_s=args.timeout_s,
        memory_mb=args.memory_mb,
        min_triton_share=args.min_triton_share,
        device=args.device,
    )
    with VerifierPool(config, workers=1) as pool:
        verdict = pool.verify(problem, solution)
    if args.json:
        print(json.dumps(verdict.to_json()))
    else:
        _render(verdict)
    return EXIT_OK if verdict.ok else EXIT_REJECTED
