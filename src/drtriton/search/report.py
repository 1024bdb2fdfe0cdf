"""Search outputs: the winning ModelNew, its verdict, the full result JSON, a markdown report and a plot of
best speedup against budget spent (on a machine without a GPU: verified candidates against budget, and
the plot says speed was not measured).

    write_outputs(result, Path("out/gelu_add"), "gelu_add")
"""

from __future__ import annotations

import json
from pathlib import Path

from drtriton.util.fileio import atomic_open, atomic_write_text


def _fmt(x: float | None, spec: str = ".3f", suffix: str = "x") -> str:
    return "not measured" if x is None else f"{x:{spec}}{suffix}"


def plot(result, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    xs = [h["spent"] for h in result.history]
    if result.speed_measured:
        pts = [(h["spent"], h["best_estimate"]) for h in result.history if h["best_estimate"] is not None]
        best, curve = None, []
        for x, y in pts:
            best = y if best is None else max(best, y)
            curve.append((x, best))
        if curve:
            ax.step([c[0] for c in curve], [c[1] for c in curve], where="post", label="best plan (fragment timings)")
        if result.speedup_vs_eager is not None:
            ax.scatter([result.candidates_tried], [result.speedup_vs_eager], color="C3", zorder=3,
                       label=f"final {result.kind}, measured end to end")
        if result.single_shot_speedup is not None:
            ax.axhline(result.single_shot_speedup, color="gray", ls="--", lw=1, label="single-shot rule-based")
        ax.axhline(1.0, color="black", lw=0.5)
        ax.set_ylabel("speedup vs eager")
        ax.set_title("drtriton optimize: best speedup vs budget")
    else:
        ax.step(xs, [h["verified"] for h in result.history], where="post")
        ax.set_ylabel("verified candidates")
        ax.set_title("speed not measured (no GPU): verified candidates vs budget")
    ax.set_xlabel("candidates verified")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=120)
    plt.close(fig)


def markdown(result, name: str) -> str:
    v = result.verdict or {}
    lines = [f"# drtriton optimize: {name}", "",
             f"- result: **{result.kind}** ({'verified ' + str(v.get('status')) if v else 'nothing verified'})",
             f"- speedup vs eager: {_fmt(result.speedup_vs_eager)}",
             f"- speedup vs torch.compile: {_fmt(result.speedup_vs_compile)}",
             (f"- single-shot rule-based speedup vs eager: {_fmt(result.single_shot_speedup)}, vs torch.compile: "
              f"{_fmt(result.single_shot_speedup_vs_compile)}"),
             f"- searched vs single-shot: {_fmt(result.speedup_vs_single_shot)}",
             (f"- budget used: {result.candidates_tried} candidates, "
              f"{_fmt(result.gpu_seconds, '.1f', ' GPU-s')}, {result.wall_seconds:.1f} s wall; "
              f"cache hits {result.cache_hits}"),
             f"- stopped: {result.stop_reason}" + (" (Ctrl-C)" if result.interrupted else ""),
             (f"- device: {result.provenance.get('device')}; torch {result.provenance.get('torch')}, "
              f"triton {result.provenance.get('triton')}"), ""]
    if not result.speed_measured:
        lines += [("> Speed needs a GPU: this run verified correctness only (Triton interpreter); no timing "
                   "was measured or estimated."), ""]
    if result.plan:
        lines += ["## Plan", "", "| step | nodes | ops | kind | proposer | fragment ms |", "|---|---|---|---|---|---|"]
        for i, s in enumerate(result.plan):
            ops = s["ops"] if isinstance(s["ops"], str) else " + ".join(s["ops"])
            ms = s.get("candidate_ms")
            lines.append(f"| {i} | {s['nodes']} | {ops} | {s['kind']} | {s.get('proposer') or ''} | "
                         f"{'' if ms is None else f'{ms:.4f}'} |")
        lines.append("")
    counts: dict[tuple[str, str], int] = {}
    for t in result.trials:
        counts[(t.proposer, t.status)] = counts.get((t.proposer, t.status), 0) + 1
    lines += ["## Candidates", "", "| proposer | status | count |", "|---|---|---|"]
    lines += [f"| {p} | {s} | {n} |" for (p, s), n in sorted(counts.items())]
    if result.notes:
        lines += ["", "## Notes", "", *[f"- {n}" for n in result.notes]]
    lines += ["", "![best speedup vs budget](search_plot.png)", ""]
    return "\n".join(lines)


def write_outputs(result, out_dir: Path, name: str) -> dict[str, Path]:
    """Writes model_new.py (when something verified), verdict.json, result.json, report.md, search_plot.png."""
    out_dir = Path(out_dir)
    paths = {"result": out_dir / "result.json", "report": out_dir / "report.md", "plot": out_dir / "search_plot.png"}
    if result.source is not None:
        paths["model_new"] = out_dir / "model_new.py"
        atomic_write_text(paths["model_new"], result.source)
        paths["verdict"] = out_dir / "verdict.json"
        atomic_write_text(paths["verdict"], json.dumps(result.verdict, indent=2))
    atomic_write_text(paths["result"], json.dumps(result.to_json(), indent=2, default=str))
    atomic_write_text(paths["report"], markdown(result, name))
    plot(result, paths["plot"])
    return paths
