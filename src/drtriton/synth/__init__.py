"""CSP-DAG synthesizer: uniform random programs of a difficulty level, as KernelBench tasks (exactly uniform
at levels 1..7, approximately above: a Markov chain; docs/SYNTH.md).

    from drtriton.synth import SynthConfig, synthesize
    for task in synthesize(SynthConfig(n=10, level=5, seed=0)): print(task["hash"], task["ops"])

The sampler is C++ (core/src/synth, docs/SYNTH.md); this package adds the degenerate-output check,
the dataset writer (parquet/jsonl, atomic, resumable) and the CLI glue.
"""

from drtriton.synth.config import SynthConfig
from drtriton.synth.dataset import SynthResult, read_tasks, synthesize, write_dataset
from drtriton.synth.degenerate import degenerate_reason

__all__ = ["SynthConfig", "SynthResult", "degenerate_reason", "read_tasks", "synthesize", "write_dataset"]
