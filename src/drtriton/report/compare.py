"""Compare kernel generators: one table over several benchmark runs (their summary.json files).

    drtriton bench compare runs/kb                 # every summary.json under runs/kb
    drtriton bench compare runs/kb/level1/rule runs/kb/level1/search --out compare.md
"""

from __future__ import annotations

import json
from pathlib import Path

from drtriton.bench.metrics import THRESHOLDS
from drtriton.report.kernelbench import fmt_share, fmt_speedup
from drtriton.util.errors import UsageError


def find_summaries(paths: list[Path]) -> list[Path]:
    """summary.json files: each path is one, or a folder searched recursively.

    Raises:
        UsageError: a path is missing, or nothing was found.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found += sorted(path.rglob("summary.json"))
        else:
            raise UsageError(f"{str(path)!r} does not exist; pass run folders written by drtriton bench "
                             "kernelbench")
    if not found:
        raise UsageError(f"no summary.json under {[str(p) for p in paths]}; run drtriton bench kernelbench "
                         "first")
    return found


def load_summary(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        data["summary"]["headline"]["vs"]
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{str(path)!r} is not a benchmark summary ({type(exc).__name__}: {exc}); "
                         "pass folders written by drtriton bench kernelbench") from None
    return data


def compare_table(summaries: list[dict]) -> tuple[list[str], list[list[str]]]:
    """One row per (run, baseline): headline fast_p and geomeans, plus the device each was measured on."""
    header = ["level", "proposer", "policy", "baseline", "n", *[f"fast_{p:g}" for p in THRESHOLDS],
              "geomean (correct)", "geomean (all)", "degenerate", "device"]
    rows = []
    for s in sorted(summaries, key=lambda s: (s["level"], s["proposer"])):
        head = s["summary"]["headline"]
        policy = (s.get("verify_config") or {}).get("policy", "")
        for baseline, f in head["vs"].items():
            rows.append([str(s["level"]), s["proposer"], str(policy),
                         "eager" if baseline == "eager" else "torch.compile", str(f["n"]),
                         *[fmt_share(f["fast"][f"fast_{p:g}"]) for p in THRESHOLDS],
                         "none correct" if not f["n_correct"] else fmt_speedup(f["geomean_correct"]),
                         fmt_speedup(f["geomean_all"]), str(s["summary"]["degenerate"]["n"]),
                         s["provenance"]["device"]])
    return header, rows
