"""Benchmark plots (matplotlib, headless): the speedup distribution and a per-problem bar chart.

Both need measured speedups; on a CPU run there are none and no plot is drawn (the report says so).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from drtriton.bench.result import ProblemResult

_COLORS = {"eager": "#1f77b4", "compile": "#ff7f0e"}


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def has_speedups(rows: Sequence[ProblemResult]) -> bool:
    return any(r.correct and (r.speedup_vs_eager is not None or r.speedup_vs_compile is not None) for r in rows)


def _save(fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    tmp.replace(path)


def speedup_distribution(rows: Sequence[ProblemResult], path: Path, title: str) -> Path | None:
    """Histogram of log2 speedup of correct kernels vs eager and vs torch.compile; None when nothing to plot."""
    plt = _pyplot()
    if plt is None or not has_speedups(rows):
        return None
    series = {b: [math.log2(s) for r in rows if r.correct and (s := getattr(r, f"speedup_vs_{b}")) is not None]
              for b in ("eager", "compile")}
    values = [v for vs in series.values() for v in vs]
    low, high = min(values + [-1.0]), max(values + [1.0])
    bins = [low + (high - low) * i / 24 for i in range(25)]
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for baseline, vs in series.items():
        if vs:
            ax.hist(vs, bins=bins, alpha=0.55, color=_COLORS[baseline], label=f"vs {baseline} (n={len(vs)})")
    ax.axvline(0.0, color="black", linewidth=1)
    ax.set_xlabel("log2 speedup of correct kernels (0 = same speed, 1 = 2x faster)")
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("problems")
    ax.set_title(title)
    ax.legend()
    _save(fig, path)
    plt.close(fig)
    return path


def per_problem_bars(rows: Sequence[ProblemResult], path: Path, title: str) -> Path | None:
    """One bar pair per problem (speedup vs eager and vs compile, log scale); problems without a correct
    kernel are marked with their status instead of a bar. None when nothing to plot."""
    plt = _pyplot()
    if plt is None or not has_speedups(rows):
        return None
    ordered = sorted(rows, key=lambda r: (r.level, r.problem_id))
    width = 0.4
    ys_all = [s for r in ordered if r.correct for s in (r.speedup_vs_eager, r.speedup_vs_compile) if s is not None]
    fig, ax = plt.subplots(figsize=(max(7.0, 0.32 * len(ordered) + 2), 4.2))
    for k, baseline in enumerate(("eager", "compile")):
        xs, ys = [], []
        for i, r in enumerate(ordered):
            s = getattr(r, f"speedup_vs_{baseline}")
            if r.correct and s is not None:
                xs.append(i + (k - 0.5) * width)
                ys.append(s)
        if xs:
            ax.bar(xs, ys, width=width, color=_COLORS[baseline], label=f"vs {baseline}")
    for i, r in enumerate(ordered):
        if not r.correct:
            ax.text(i, 1.0, r.status, rotation=90, ha="center", va="bottom", fontsize=6, color="#b22222")
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))  # 0.5x, 1x, 2x rather than 10^0
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks([t for t in (0.25, 0.5, 1, 2, 4, 8, 16) if min(ys_all) / 2 <= t <= max(ys_all) * 2] or [1])
    ax.axhline(1.0, color="black", linewidth=1)
    ax.set_xticks(range(len(ordered)))
    ax.set_xticklabels([f"{r.problem_id}{'*' if r.degenerate else ''}" for r in ordered], fontsize=7,
                       rotation=90)
    ax.set_xlabel("problem id (* = degenerate reference)")
    ax.set_ylabel("speedup (log scale)")
    ax.set_title(title)
    ax.legend()
    _save(fig, path)
    plt.close(fig)
    return path
