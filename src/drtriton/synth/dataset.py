"""Task streams and datasets: synthesize(config) yields task rows; write_dataset writes them to parquet or
jsonl atomically, checkpointing every `chunk` rows, and resumes a partial file (same rows as one run).

    drtriton synth --n 1000 --level 5 --seed 0 --out tasks.parquet
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from drtriton.synth.config import SynthConfig
from drtriton.synth.degenerate import degenerate_reason
from drtriton.util.errors import UsageError
from drtriton.util.fileio import atomic_open, check_writable_dir
from drtriton.util.provenance import Provenance

COLUMNS = ["hash", "program", "graph_json", "level", "ops", "shapes", "output_shape", "flops", "bytes",
           "seed", "index", "generator_version", "config_hash", "provenance"]
MAX_DEGENERATE_REDRAWS = 1000  # per row; a level whose programs are almost all degenerate is a bug
STRATUM_REDRAWS = 50  # per coverage-stratum row before the row falls back to the uniform stream


@dataclass
class SynthResult:
    path: Path | None
    rows: int
    resumed_from: int
    seconds: float
    degenerate: dict = field(default_factory=dict)   # reason -> programs rejected by the torch check
    sampler_stats: dict = field(default_factory=dict)


def synthesize(config: SynthConfig, start: int = 0, degenerate: dict | None = None) -> Iterator[dict]:
    """Yields task rows start..config.n-1; row i depends only on (config, i).

    Row i is drawn from stream_seed(seed, i), inside coverage stratum row_stratum(seed, i) unless
    config.strict_uniform; when the torch check rejects it, from stream_seed(that seed, j) for
    j = 1, 2, ... in the same stratum (so resumed and sequential runs agree). After STRATUM_REDRAWS
    degenerate draws in a stratum the row's later redraws are uniform over all programs.
    """
    from drtriton import _core

    sampler = config.sampler()
    fingerprint = config.fingerprint()
    provenance = json.dumps(Provenance.here().to_json(), sort_keys=True)
    for index in range(start, config.n):
        row_seed = _core.stream_seed(config.seed, index)
        stratum = sampler.row_stratum(config.seed, index, config.strict_uniform)
        for redraw in range(MAX_DEGENERATE_REDRAWS):
            seed = row_seed if redraw == 0 else _core.stream_seed(row_seed, redraw)
            if stratum >= 0 and redraw == STRATUM_REDRAWS:
                # Every draw of this pair's stratum was degenerate (a pair legal by shapes whose programs
                # all have constant or input-insensitive outputs at this scale): the row goes to the
                # uniform stream instead, and the count says so.
                stratum = -1
                if degenerate is not None:
                    degenerate["stratum_gave_up"] = degenerate.get("stratum_gave_up", 0) + 1
            try:
                task = sampler.draw_task(seed, stratum)
            except ValueError as exc:  # _core.InfeasibleError: no valid program found for this row
                raise UsageError(f"level {config.level}, row {index}: {exc}") from None
            reason = degenerate_reason(task["program"], seed) if config.check_degenerate else None
            if reason is None:
                break
            if degenerate is not None:
                key = reason.split(" input")[0]
                degenerate[key] = degenerate.get(key, 0) + 1
        else:
            raise UsageError(f"level {config.level}: {MAX_DEGENERATE_REDRAWS} degenerate programs in a row; "
                             "change the operator set or pass --no-check-degenerate")
        task.update(index=index, config_hash=fingerprint, provenance=provenance)
        yield task


def read_tasks(path: Path) -> list[dict]:
    """Rows of a parquet or jsonl task file (UsageError when it cannot be read)."""
    path = Path(path)
    try:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path).to_pylist()
        with open(path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {path} ({type(exc).__name__}: {str(exc)[:80]}); "
                         "delete it or pick another --out") from None


def _write(path: Path, rows: list[dict]) -> None:
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pa.schema([
            ("hash", pa.string()), ("program", pa.string()), ("graph_json", pa.string()), ("level", pa.int32()),
            ("ops", pa.list_(pa.string())), ("shapes", pa.list_(pa.list_(pa.int64()))),
            ("output_shape", pa.list_(pa.int64())), ("flops", pa.float64()), ("bytes", pa.float64()),
            ("seed", pa.uint64()), ("index", pa.int64()), ("generator_version", pa.string()),
            ("config_hash", pa.string()), ("provenance", pa.string()),
        ])
        with atomic_open(path, "wb") as fh:
            pq.write_table(pa.Table.from_pylist(rows, schema=schema), fh)
    else:
        with atomic_open(path, "w") as fh:
            for row in rows:
                fh.write(json.dumps(row, sort_keys=True) + "\n")


def _resume_rows(config: SynthConfig) -> list[dict]:
    path = config.out
    if not path.exists():
        return []
    rows = read_tasks(path)
    fingerprint = config.fingerprint()
    for i, row in enumerate(rows):
        missing = [c for c in COLUMNS if c not in row]
        if missing:
            raise UsageError(f"{path} row {i} lacks columns {missing}: not a drtriton task file; "
                             "delete it or pick another --out")
        if row["config_hash"] != fingerprint or row["index"] != i:
            raise UsageError(f"{path} was written with other settings (row {i}: config {row['config_hash']}, "
                             f"index {row['index']}; now {fingerprint}); use the same flags or another --out")
    if len(rows) > config.n:
        raise UsageError(f"{path} already holds {len(rows)} rows, more than --n {config.n}; "
                         f"pass --n {len(rows)} or more")
    return rows


def write_dataset(config: SynthConfig, progress: Callable[[int], None] | None = None) -> SynthResult:
    """Writes config.n rows to config.out, resuming from what it already holds.

    The file is rewritten atomically every config.chunk rows, so an interrupted run leaves a valid
    prefix that the next run continues from. `progress(rows_done)` is called after each row.
    """
    if config.out is None:
        raise UsageError("--out is required to write a dataset (.parquet or .jsonl)")
    check_writable_dir(config.out)
    rows = _resume_rows(config)
    resumed_from = len(rows)
    degenerate: dict = {}
    t0 = time.perf_counter()
    pending = 0
    for task in synthesize(config, start=resumed_from, degenerate=degenerate):
        rows.append(task)
        pending += 1
        if progress:
            progress(len(rows))
        if pending >= config.chunk:
            _write(config.out, rows)
            pending = 0
    if pending or not config.out.exists():
        _write(config.out, rows)
    return SynthResult(path=config.out, rows=len(rows), resumed_from=resumed_from,
                       seconds=time.perf_counter() - t0, degenerate=degenerate)
