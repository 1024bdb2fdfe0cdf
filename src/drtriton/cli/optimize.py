"""drtriton optimize PROBLEM.py: search for a verified, faster ModelNew within a budget.

    drtriton optimize examples/linear_gelu_layernorm.py --max-candidates 32 --out out/lgl
    drtriton optimize problem.py --proposer rule --proposer openai --endpoint http://localhost:8000/v1

Writes model_new.py, verdict.json, result.json, report.md and search_plot.png under --out. Ctrl-C stops
the search and keeps the best verified result (exit 130). Exit 0 when a verified ModelNew was found.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from drtriton.util.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_REJECTED, UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("optimize", help="search for a verified, faster ModelNew (exit 0 found, 1 none)")
    p.add_argument("problem", type=Path, help="KernelBench-format file defining Model, get_inputs, get_init_inputs")
    p.add_argument("--out", type=Path, default=None, help="output folder (default out/optimize/<problem stem>)")
    b = p.add_argument_group("budget (search stops at the first one reached)")
    b.add_argument("--max-candidates", type=int, default=64, help="candidates verified (cache hits are free)")
    b.add_argument("--max-gpu-seconds", type=float, default=None, help="GPU-seconds spent verifying")
    b.add_argument("--max-seconds", type=float, default=1800.0, help="wall time in seconds")
    b.add_argument("--patience", type=int, default=24, help="early stop after this many candidates without a better plan")
    b.add_argument("--target-speedup", type=float, default=None, help="early stop at this estimated speedup")
    s = p.add_argument_group("search")
    s.add_argument("--max-fragment-nodes", type=int, default=4, help="largest fragment (connected subgraph) size")
    s.add_argument("--max-fragments", type=int, default=64, help="fragments tried (whole program first)")
    s.add_argument("--candidates-per-fragment", type=int, default=4, help="proposals per fragment per round")
    s.add_argument("--refine-rounds", type=int, default=1, help="rounds feeding verdicts back to model proposers")
    s.add_argument("--proposer", action="append", choices=["rule", "hf", "openai"], default=None,
                   help="repeatable; default: rule (no model needed)")
    s.add_argument("--policy", choices=["strict", "mixed", "hybrid"], default="hybrid",
                   help="hybrid: unreplaced operators may stay in PyTorch; mixed: conv/matmul library calls allowed")
    s.add_argument("--model-path", default=None, help="local Hugging Face model folder (hf proposer)")
    s.add_argument("--endpoint", default=None, help="OpenAI-compatible base URL (openai proposer)")
    s.add_argument("--model-name", default="default", help="model name sent to the endpoint")
    s.add_argument("--cache-dir", type=Path, default=Path(".drtriton_cache/search"),
                   help="verdict cache shared across runs and problems")
    s.add_argument("--tolerance", default="default", help="default (1e-4), kernelbench (1e-2) or a number")
    s.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    s.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from drtriton.search import SearchConfig, optimize
    from drtriton.search.backend import EngineBackend
    from drtriton.search.report import write_outputs
    from drtriton.verify import VerifyConfig

    if not args.problem.is_file():
        raise UsageError(f"problem file {str(args.problem)!r} does not exist; pass a KernelBench-format .py file")
    out = args.out or Path("out/optimize") / args.problem.stem
    cfg = SearchConfig(
        max_candidates=args.max_candidates, max_gpu_seconds=args.max_gpu_seconds, max_seconds=args.max_seconds,
        patience=args.patience, target_speedup=args.target_speedup, max_fragment_nodes=args.max_fragment_nodes,
        max_fragments=args.max_fragments, candidates_per_fragment=args.candidates_per_fragment,
        refine_rounds=args.refine_rounds, proposers=tuple(args.proposer or ("rule",)), policy=args.policy,
        model_path=args.model_path, endpoint=args.endpoint, model_name=args.model_name, seed=args.seed,
        cache_dir=args.cache_dir, out_dir=out)
    backend = EngineBackend(VerifyConfig.with_tolerance(args.tolerance, policy=args.policy, device=args.device))
    if not backend.gpu:
        print("drtriton optimize: no GPU: correctness is verified with the Triton interpreter; speed needs a GPU "
              "and is not measured", file=sys.stderr)
    try:
        result = _search(optimize, args.problem.read_text(encoding="utf-8"), cfg, backend)
    finally:
        backend.close()
    paths = write_outputs(result, out, args.problem.stem)
    if args.json:
        print(json.dumps({**result.to_json(), "trials": len(result.trials),
                          "files": {k: str(v) for k, v in paths.items()}}, default=str))
    else:
        _render(result, paths)
    if result.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if result.source is not None else EXIT_REJECTED


def _search(optimize, src, cfg, backend):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    with Progress(TextColumn("[bold]optimize"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[best]}"), console=console, transient=False) as bar:
        task = bar.add_task("search", total=cfg.max_candidates, best="best: -")

        def on_progress(p: dict) -> None:
            best = p["best_estimate"]
            text = f"best est. {best:.2f}x" if best is not None else "best: speed not measured"
            bar.update(task, completed=p["spent"], best=f"{text}, cache hits {p['cache_hits']}")

        return optimize(src, cfg, backend=backend, on_progress=on_progress)


def _render(result, paths) -> None:
    from rich.console import Console
    from rich.table import Table

    def f(x, suffix="x"):
        return "not measured" if x is None else f"{x:.3f}{suffix}"

    t = Table(title="drtriton optimize", show_header=False)
    t.add_row("result", f"{result.kind} ({(result.verdict or {}).get('status', 'nothing verified')})")
    t.add_row("speedup vs eager", f(result.speedup_vs_eager))
    t.add_row("speedup vs torch.compile", f(result.speedup_vs_compile))
    t.add_row("vs single-shot rule-based", f(result.speedup_vs_single_shot))
    t.add_row("budget used", f"{result.candidates_tried} candidates, {f(result.gpu_seconds, ' GPU-s')}, "
              f"{result.wall_seconds:.1f} s wall, {result.cache_hits} cache hits")
    t.add_row("stopped", result.stop_reason)
    for name, path in paths.items():
        t.add_row(name, str(path))
    Console().print(t)
    for note in result.notes:
        print(f"note: {note}")
