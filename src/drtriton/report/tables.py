"""Rich tables for the terminal (stdout): a benchmark's fast_p, verdict counts and per-problem results."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from drtriton.report.kernelbench import fastp_table, problems_table, status_table


def table(title: str, header: list[str], rows: list[list[str]], drop: tuple[str, ...] = ()) -> Table:
    out = Table(title=title, title_justify="left")
    keep = [i for i, h in enumerate(header) if h not in drop]
    for i in keep:
        # long free text is cut (the full text is in the CSV and reports); numbers and names never wrap
        if header[i] == "reason":
            out.add_column(header[i], overflow="ellipsis", no_wrap=True, max_width=40)
        else:
            widest_word = max(len(w) for w in header[i].split())
            widest_cell = max((len(row[i]) for row in rows), default=0)
            out.add_column(header[i], overflow="fold", min_width=max(widest_word, min(widest_cell, 14)))
    for row in rows:
        out.add_row(*[row[i] for i in keep])
    return out


def render_bench(run: Any, console: Console | None = None, per_problem: bool = True) -> None:
    """Prints the headline fast_p table, verdict counts, the degenerate section and (optionally) every row."""
    console = console or Console()
    s = run.summary
    p = run.provenance
    console.print(f"[bold]KernelBench level {run.config.level}[/bold]  proposer {run.proposer}  device "
                  f"{p.device}"
                  f"  torch {p.torch}  triton {p.triton}")
    if per_problem:
        console.print(table("Per problem", *problems_table(run.rows),
                             drop=("level", "kernel ms", "eager ms", "compile ms")))
    console.print(table(f"fast_p, headline ({s.headline.n} problems, degenerate excluded)",
                         *fastp_table(s.headline)))
    console.print(table("Verdicts (headline)", *status_table(s.headline)))
    if s.degenerate.n:
        console.print(table(f"fast_p, degenerate references ({s.degenerate.n} problems, reported apart)",
                             *fastp_table(s.degenerate)))
    if s.n_unchecked:
        console.print(f"{s.n_unchecked} problem(s) were not checked for a degenerate reference.")
    for w in run.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}")
