"""KernelBench runner: every problem of a user's checkout through a proposer and the verifier, with fast_p.

    drtriton bench kernelbench --path ~/KernelBench --level 1 --proposer rule --out runs/kb

Library entry point: run_kernelbench(BenchConfig(...)) -> BenchRun (rows, summary, run_dir).
"""

from drtriton.bench.metrics import FastP, Metrics, Summary, fast_p, geomean, metrics, summarize
from drtriton.bench.problems import Problem, discover, resolve_root
from drtriton.bench.result import ProblemResult
from drtriton.bench.runner import BenchConfig, BenchRun, run_kernelbench, select_problems
from drtriton.bench.split import Split, load_split, make_split, save_split, split_checkout

__all__ = [
    "BenchConfig", "BenchRun", "FastP", "Metrics", "Problem", "ProblemResult", "Split", "Summary", "discover",
    "fast_p", "geomean", "load_split", "make_split", "metrics", "resolve_root", "run_kernelbench", "save_split",
    "select_problems", "split_checkout", "summarize",
]
