"""Synthesizer throughput: programs/s on one core for levels 1, 2, 5, 20, through the C++ tool
(core/tools/drtriton_synth, JSON emission included) and through the Python API (Synthesizer.draw_tasks on
the strict-uniform stream: graph JSON + PyTorch program text + hash per row; no torch degenerate check).
The sampler's start-up (building the counting DP) is reported apart from the drawing rate, with the load
average (shared machines depress the rates): programs per wall second, and per CPU second of the process
(steadier on a shared machine, where wall time also counts the waits for a core). Prints a table and
writes JSON to --out (default $OUT/synth_throughput.json when $OUT is set).

    PYTHONPATH=src python bench/synth_throughput.py --tool build/synth/core/drtriton_synth --seconds 20
    PYTHONPATH=src python bench/synth_throughput.py --levels 1,2,5 --seconds 5    # skip level 20's start pool
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

from drtriton import _core
from drtriton.util.provenance import Provenance


def cpp_rate(tool: str, level: int, seconds: float, scale: str) -> dict:
    out = subprocess.run([tool, "--level", str(level), "--n", "1000000000", "--seconds", str(seconds),
                          "--scale", scale, "--emit"], capture_output=True, text=True, check=True)
    row = json.loads(out.stdout)
    row["programs_per_s"] = row["programs_per_s"] if row["n"] > 0 else None  # none drawn: unmeasured
    return row


def python_rate(level: int, seconds: float, scale: str) -> dict:
    built = time.perf_counter()
    sampler = _core.Synthesizer(level, scale)  # builds the counting DP: start-up, reported apart
    startup = time.perf_counter() - built
    start, cpu_start, drawn = time.perf_counter(), time.process_time(), 0
    # Batches of 1 would time the Python loop; batches of 16 keep the binding overhead honest. The
    # strict-uniform stream is the steady state (coverage-seeded rows are the first P rows only).
    batch = 16 if level < 20 else 1
    while time.perf_counter() - start < seconds:
        sampler.draw_tasks(0, drawn, batch, strict_uniform=True)
        drawn += batch
        if level >= 20:
            break  # one level-20 program may take minutes: measure one and stop
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return {"level": level, "n": drawn, "startup_seconds": startup, "seconds": elapsed,
            "programs_per_s": drawn / elapsed, "cpu_seconds": cpu,
            "programs_per_cpu_s": drawn / cpu if cpu > 0 else None, "stats": sampler.stats()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tool", default="build/synth/core/drtriton_synth", help="C++ tool path")
    parser.add_argument("--levels", default="1,2,5,20")
    parser.add_argument("--seconds", type=float, default=10.0, help="time budget per level and path")
    parser.add_argument("--scale", choices=["small", "realistic"], default="small")
    parser.add_argument("--python-levels", default="1,2,5", help="levels timed through the Python API")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    results = {"cpp": [], "python": [], "scale": args.scale, "seconds_per_level": args.seconds,
               "provenance": Provenance.here().to_json(), "cores": 1, "load_average": os.getloadavg(),
               "generator_version": _core.GENERATOR_VERSION}
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores, {_core.GENERATOR_VERSION}")
    print(f"{'path':8} {'level':>5} {'startup_s':>9} {'programs':>9} {'seconds':>8} {'programs/s/core':>16} "
          f"{'per CPU s':>10} {'acceptance':>11}")

    def fmt(rate: float | None) -> str:
        return f"{rate:.1f}" if rate else "None"

    for level in levels:
        row = cpp_rate(args.tool, level, args.seconds, args.scale)
        results["cpp"].append(row)
        print(f"{'c++':8} {level:>5} {row['startup_seconds']:>9.3f} {row['n']:>9} {row['seconds']:>8.2f} "
              f"{fmt(row['programs_per_s']):>16} {fmt(row.get('programs_per_cpu_s')):>10} {row['acceptance']:>11.6f}")
    for level in [int(x) for x in args.python_levels.split(",") if x]:
        row = python_rate(level, args.seconds, args.scale)
        results["python"].append(row)
        st = row["stats"]
        acc = st["accepted"] / st["proposals"] if st["proposals"] else 0.0
        print(f"{'python':8} {level:>5} {row['startup_seconds']:>9.3f} {row['n']:>9} {row['seconds']:>8.2f} "
              f"{fmt(row['programs_per_s']):>16} {fmt(row['programs_per_cpu_s']):>10} {acc:>11.6f}")
    results["load_average_end"] = os.getloadavg()
    out = args.out or (Path(os.environ["OUT"]) / "synth_throughput.json" if os.environ.get("OUT") else None)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2))
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
