"""KernelBench reports: per-problem CSV, summary JSON, and a markdown + self-contained HTML report with plots.

    from drtriton.report.kernelbench import write_reports
    paths = write_reports(run)      # run = drtriton.bench.run_kernelbench(...)

The header names the exact versions and device (from Provenance) and the verifier policy and tolerance.
Headline metrics exclude degenerate problems; those get their own section, never dropped.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import html
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from drtriton.bench.metrics import THRESHOLDS, Metrics
from drtriton.bench.result import ProblemResult
from drtriton.report import plots
from drtriton.util.fileio import atomic_write_text

NOT_MEASURED = "not measured"


# ---- formatting ----


def fmt_share(value: float | None) -> str:
    return NOT_MEASURED if value is None else f"{100 * value:.1f}%"


def fmt_speedup(value: float | None) -> str:
    return NOT_MEASURED if value is None else f"{value:.2f}x"


def fmt_ms(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def fastp_table(m: Metrics) -> tuple[list[str], list[list[str]]]:
    """Rows: one per baseline; columns: n, fast_p for each threshold, geomeans."""
    header = ["baseline", "n", *[f"fast_{p:g}" for p in THRESHOLDS], "geomean (correct)",
              "geomean (all, no kernel = 1.0x)"]
    rows = []
    for baseline, f in m.vs.items():
        label = "eager" if baseline == "eager" else "torch.compile"
        geo_correct = "none correct" if f.n_correct == 0 else fmt_speedup(f.geomean_correct)
        rows.append([label, str(f.n), *[fmt_share(f.fast[p]) for p in THRESHOLDS], geo_correct,
                     fmt_speedup(f.geomean_all)])
    return header, rows


def status_table(m: Metrics) -> tuple[list[str], list[list[str]]]:
    return ["status", "problems"], [[s, str(c)] for s, c in m.counts.items() if c or s == "correct"]


def problems_table(rows: Sequence[ProblemResult]) -> tuple[list[str], list[list[str]]]:
    header = ["level", "id", "name", "status", "vs eager", "vs compile", "kernel ms", "eager ms", "compile "
                                                                                                  "ms",
              "degenerate", "reason"]
    body = []
    for r in sorted(rows, key=lambda r: (r.level, r.problem_id)):
        degenerate = {True: "yes", False: "no", None: "unchecked"}[r.degenerate]
        reason = r.reason if not r.correct else ""
        if r.degenerate:
            reason = f"{reason} [{r.degenerate_reason}]".strip()
        body.append([str(r.level), str(r.problem_id), r.name, r.status,
                     fmt_speedup(r.speedup_vs_eager) if r.correct else "",
                     fmt_speedup(r.speedup_vs_compile) if r.correct else "",
                     fmt_ms(r.candidate_ms), fmt_ms(r.eager_ms), fmt_ms(r.compile_ms), degenerate,
                     reason[:160]])
    return header, body


# ---- a small document model rendered to markdown and HTML ----


@dataclass
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[tuple[list[str], list[list[str]]]] = field(default_factory=list)
    images: list[Path] = field(default_factory=list)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(title: str, sections: Sequence[Section], image_base: Path) -> str:
    out = [f"# {title}", ""]
    for s in sections:
        out += [f"## {s.title}", ""]
        for p in s.paragraphs:
            out += [p, ""]
        for header, rows in s.tables:
            out.append("| " + " | ".join(map(_md_cell, header)) + " |")
            out.append("|" + "---|" * len(header))
            out += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in rows]
            out.append("")
        for img in s.images:
            out += [f"![{img.stem}]({img.relative_to(image_base)})", ""]
    return "\n".join(out)


def render_html(title: str, sections: Sequence[Section]) -> str:
    e = html.escape
    out = ["<!doctype html><html><head><meta charset='utf-8'>", f"<title>{e(title)}</title>",
           "<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto}table{border-collapse:collapse;"
           "margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}th{background:#f3f3f3}"
           "img{max-width:100%}</style></head><body>", f"<h1>{e(title)}</h1>"]
    for s in sections:
        out.append(f"<h2>{e(s.title)}</h2>")
        out += [f"<p>{e(p)}</p>" for p in s.paragraphs]
        for header, rows in s.tables:
            out.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>")
            out += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows]
            out.append("</table>")
        for img in s.images:  # inlined, so the HTML file stands alone
            data = base64.b64encode(img.read_bytes()).decode()
            out.append(f"<img alt='{e(img.stem)}' src='data:image/png;base64,{data}'>")
    out.append("</body></html>")
    return "\n".join(out)


# ---- the KernelBench report ----


def header_lines(provenance: Any, proposer: str, level: int, verify_config: Any, warnings: Sequence[str]
                 ) -> list[str]:
    p = provenance
    lines = [f"Date (UTC): {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M')}.",
             f"Device: {p.device}. Host: {p.host}.",
             f"Versions: drtriton {p.drtriton}, python {p.python}, torch {p.torch}, triton {p.triton}, "
             f"numpy {p.numpy}.",
             f"Proposer: {proposer}. Level: {level}."]
    if verify_config is not None:
        vc = verify_config.to_json() if hasattr(verify_config, "to_json") else vars(verify_config)
        keys = ("policy", "atol", "rtol", "seeds", "distributions", "n_timing", "device")
        lines.append("Verifier: " + ", ".join(f"{k}={vc[k]}" for k in keys if k in vc) + ".")
    if p.device == "cpu":
        lines.append("No GPU: correctness (fast_0) is measured; speed figures are 'not measured' unless "
                     "the verifier timed them.")
    lines += [f"Warning: {w}." for w in warnings]
    return lines


def build_sections(run: Any, images: Sequence[Path]) -> list[Section]:
    s = run.summary
    config = run.config
    intro = Section("Run", header_lines(run.provenance, run.proposer, config.level, run.verify_config,
                                        run.warnings))
    intro.paragraphs.append(
        f"Problems: {s.overall.n} ({s.headline.n} in the headline, {s.degenerate.n} with a degenerate "
        "reference, "
        f"{s.n_unchecked} not checked for degeneracy)" + (f"; split: "
                                                          f"{config.split}" if config.split else "") +
        f". Results reused from the cache: {run.n_cached}.")
    head = Section("fast_p (headline: problems with a non-degenerate reference)", [
        "fast_p = share of all problems whose kernel is correct and more than p times faster than the "
        "baseline "
        "(strictly greater); fast_0 = share correct. Geomean (all) counts every problem without a correct "
        "kernel as 1.0x: the user falls back to "
        "PyTorch."], [fastp_table(s.headline), status_table(s.headline)])
    sections = [intro, head]
    degenerate = Section("Degenerate problems (reported separately)")
    if s.degenerate.n:
        degenerate.paragraphs.append(
            "Their reference output is near-constant or input-insensitive at the verifier's tolerance, so a "
            "kernel that ignores its inputs would pass; their results are not in the headline.")
        degenerate.tables += [fastp_table(s.degenerate), problems_table([r for r in run.rows if r.degenerate])]
    else:
        degenerate.paragraphs.append("None found." if s.n_unchecked == 0 else
                                     f"None found among checked problems; {s.n_unchecked} were not checked.")
    sections.append(degenerate)
    sections.append(Section("All problems (degenerate included)", tables=[fastp_table(s.overall)]))
    plot_section = Section("Plots", images=list(images))
    if not images:
        plot_section.paragraphs.append("No plot: no correct kernel has a measured speedup on this device.")
    sections.append(plot_section)
    sections.append(Section("Per problem", tables=[problems_table(run.rows)]))
    return sections


def write_csv(rows: Sequence[ProblemResult], path: Path) -> None:
    names = [f.name for f in fields(ProblemResult)]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    for r in sorted(rows, key=lambda r: (r.level, r.problem_id)):
        writer.writerow({k: ("" if v is None else v) for k, v in r.to_json().items()})  # empty = not measured
    atomic_write_text(path, buf.getvalue())


def summary_json(run: Any) -> dict:
    vc = getattr(run, "verify_config", None)
    return {"level": run.config.level, "proposer": run.proposer, "split": run.config.split,
            "summary": run.summary.to_json(), "provenance": run.provenance.to_json(),
            "verify_config": vc.to_json() if hasattr(vc, "to_json") else None,
            "warnings": list(run.warnings), "n_cached": run.n_cached, "not_run": list(run.not_run)}


def write_reports(run: Any, out_dir: Path | None = None) -> dict[str, Path]:
    """Writes results.csv, summary.json, report.md, report.html and plots/*.png under out_dir (default
    run.run_dir); returns the paths written, by kind."""
    out_dir = Path(out_dir or run.run_dir)
    title = f"KernelBench level {run.config.level}: {run.proposer}"
    images = [p for p in (
        plots.speedup_distribution(run.rows, out_dir / "plots" / "speedup_distribution.png",
                                   f"{title}: speedup distribution"),
        plots.per_problem_bars(run.rows, out_dir / "plots" / "per_problem.png", f"{title}: per problem"),
    ) if p is not None]
    sections = build_sections(run, images)
    paths = {"csv": out_dir / "results.csv", "summary": out_dir / "summary.json", "markdown": out_dir / "report.md",
             "html": out_dir / "report.html"}
    write_csv(run.rows, paths["csv"])
    atomic_write_text(paths["summary"], json.dumps(summary_json(run), indent=1) + "\n")
    atomic_write_text(paths["markdown"], render_markdown(title, sections, out_dir))
    atomic_write_text(paths["html"], render_html(title, sections))
    paths.update({p.stem: p for p in images})
    return paths
