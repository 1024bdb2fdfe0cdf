"""drtriton compile PROBLEM.py -o SOLUTION.py: the non-LLM compiler (FX import -> fusion -> Triton ModelNew).

    drtriton compile tests/problems/linear_gelu_layernorm.py -o /tmp/sol.py --policy mixed --knobs block_m=32
    drtriton compile tests/problems/softmax_rows.py --dump-ir-after fuse_epilogues
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from drtriton.util.errors import EXIT_OK, UsageError
from drtriton.util.fileio import atomic_write_text


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compile", help="compile a KernelBench program into a fused Triton ModelNew (no model)")
    p.add_argument("problem", type=Path, help="KernelBench-format file defining Model, get_inputs, get_init_inputs")
    p.add_argument("-o", "--out", type=Path, default=None, help="where to write ModelNew (default: stdout)")
    p.add_argument("--policy", choices=["strict", "mixed", "hybrid"], default="mixed",
                   help="strict: all in Triton; mixed: convolutions may be PyTorch library calls (epilogues "
                        "fused); hybrid: operators without a Triton lowering, and calls with no registry "
                        "operator, stay PyTorch calls between the kernels")
    p.add_argument("--knobs", nargs="*", default=[], metavar="NAME=VALUE",
                   help="emitter knobs: block, reduce_block, reduce_block_inner, block_m, block_n, block_k, "
                        "num_warps, num_stages, split_k (0 auto, 1 never), fuse_epilogue, fuse_prologue, allow_tf32, conv_channels_last, conv_tf32, split=ID,ID")
    p.add_argument("--dump-ir-after", default="", metavar="PASS",
                   help="print the fusion plan after PASS (classify, materialize, fuse_epilogues, group) and stop")
    p.add_argument("--json", action="store_true", help="print the compile report as one JSON object")
    p.set_defaults(run=run)


def _render(report: dict, out: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"drtriton compile (policy {report['policy']})")
    table.add_column("#")
    table.add_column("where")
    table.add_column("kind")
    table.add_column("fused operators")
    for i, k in enumerate(report["kernels"]):
        table.add_row(str(i), "Triton", k["kind"], " -> ".join(k["ops"]))
    for ops in report["library_calls"]:
        table.add_row("-", "PyTorch", "library call", " ".join(ops))
    for call in report.get("host_calls", []):
        table.add_row("-", "PyTorch", "hybrid (no registry op)", call)
    Console().print(table)
    if out is not None:
        Console().print(f"wrote {out}")


def run(args: argparse.Namespace) -> int:
    from drtriton.frontend import CompileConfig, compile_problem, parse_knobs

    try:
        problem_src = args.problem.read_text()
    except OSError as exc:
        raise UsageError(f"cannot read problem file {args.problem} ({exc.strerror}); pass an existing .py file") from None
    config = CompileConfig(policy=args.policy, knobs=parse_knobs(args.knobs))
    result = compile_problem(problem_src, config, dump_after=args.dump_ir_after)
    if args.dump_ir_after:
        print(result.source, end="")
        return EXIT_OK
    if args.out is not None:
        atomic_write_text(args.out, result.source)
    elif not args.json:
        sys.stdout.write(result.source)
        return EXIT_OK
    if args.json:
        print(json.dumps({"out": str(args.out) if args.out else None, **result.report,
                          **({} if args.out else {"source": result.source})}))
    else:
        _render(result.report, args.out)
    return EXIT_OK
