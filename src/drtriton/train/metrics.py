"""Training logs: a long-format CSV (step, key, value, time), TensorBoard event files when tensorboard is
installed, and learning-curve plots drawn from the CSV.

    log = MetricsLogger(run_dir); log.log(step, {"loss": 0.3}); log.close()
    plot_learning_curves(run_dir / "metrics.csv", run_dir / "curves.png")
"""

from __future__ import annotations

import csv
import math
import time
from pathlib import Path


class MetricsLogger:
    """Appends to `run_dir/metrics.csv` (kept across resumes) and `run_dir/tb/`."""

    def __init__(self, run_dir: Path, tensorboard: bool = True):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.csv_path = self.run_dir / "metrics.csv"
        new = not self.csv_path.is_file()
        self._fh = self.csv_path.open("a", newline="")
        self._csv = csv.writer(self._fh)
        if new:
            self._csv.writerow(["step", "key", "value", "time"])
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(self.run_dir / "tb"))
            except Exception:  # noqa: BLE001 - tensorboard is optional (absent on the GPU machine)
                self._tb = None

    def log(self, step: int, values: dict) -> None:
        now = time.time()
        for key, value in values.items():
            if value is None or isinstance(value, (str, bool)):
                continue
            v = float(value)
            self._csv.writerow([step, key, repr(v), f"{now:.3f}"])
            if self._tb is not None and math.isfinite(v):
                self._tb.add_scalar(key, v, step)
        self._fh.flush()
        if self._tb is not None:
            self._tb.flush()

    def close(self) -> None:
        self._fh.close()
        if self._tb is not None:
            self._tb.close()


def read_metrics(csv_path: Path) -> dict[str, list[tuple[int, float]]]:
    series: dict[str, list[tuple[int, float]]] = {}
    with Path(csv_path).open() as fh:
        for row in csv.DictReader(fh):
            series.setdefault(row["key"], []).append((int(row["step"]), float(row["value"])))
    return series


# The panels of curves.png when no keys are given (every metric stays in the CSV and TensorBoard): a
# panel per logged metric (~40 in RL) made plotting cost as much as several RL steps.
HEADLINE_KEYS = (
    "sft/loss", "sft/lr", "sft/grad_norm", "sft/pairs",
    "rollout/correct_rate", "rollout/format_error_rate", "rollout/grpo_reward", "rollout/mixed_groups",
    "rollout/mean_log_speedup", "eval/pass_at_1", "eval/compile_rate", "curriculum/level",
    "drpo/loss", "drpo/kl", "grpo/loss", "grpo/kl", "perf/step_s", "perf/gen_tokens_per_s",
)
MAX_DEFAULT_PANELS = 12


def plot_learning_curves(csv_path: Path, out_png: Path, keys: list[str] | None = None) -> Path | None:
    """One panel per metric (default: the HEADLINE_KEYS logged, else the first 12 metrics); returns the PNG
    path, or None when matplotlib is missing or nothing was logged."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    series = read_metrics(csv_path)
    if keys is None:
        keys = [k for k in HEADLINE_KEYS if k in series] or sorted(series)[:MAX_DEFAULT_PANELS]
    keys = [k for k in keys if k in series]
    if not keys:
        return None
    cols = min(3, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.2 * rows), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        xs, ys = zip(*series[key])
        ax.plot(xs, ys, marker="." if len(xs) < 50 else None)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("step")
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    fig.tight_layout()
    out_png = Path(out_png)
    tmp = out_png.with_name(f".{out_png.stem}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(out_png)
    return out_png


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _save(fig, plt, out_png: Path) -> Path:
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_png.with_name(f".{out_png.stem}.tmp.png")
    fig.tight_layout()
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(out_png)
    return out_png


def plot_runs_compared(csv_paths: dict[str, Path], keys: list[str], out_png: Path) -> Path | None:
    """One panel per metric, one line per run (e.g. DRPO vs GRPO on the same data); None if nothing logged."""
    plt = _pyplot()
    runs = {name: read_metrics(p) for name, p in csv_paths.items() if Path(p).is_file()}
    keys = [k for k in keys if any(k in s for s in runs.values())]
    if plt is None or not keys:
        return None
    cols = min(3, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.2 * rows), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        for name, series in runs.items():
            if key in series:
                xs, ys = zip(*series[key])
                ax.plot(xs, ys, marker="." if len(xs) < 50 else None, label=name)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    return _save(fig, plt, out_png)


def plot_eval_bars(results: dict[str, dict], metrics: list[str], out_png: Path) -> Path | None:
    """Grouped bars: one panel per metric, levels on the x axis, one bar per model. `results` maps
    model -> level -> {metric: value | None}; an unmeasured value draws no bar and is marked n/m."""
    plt = _pyplot()
    models = [m for m, r in results.items() if r]
    levels = sorted({lv for m in models for lv in results[m]}, key=int)
    if plt is None or not models or not levels:
        return None
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.4), squeeze=False)
    width = 0.8 / len(models)
    for ax, metric in zip(axes.flat, metrics):
        for k, model in enumerate(models):
            for j, level in enumerate(levels):
                row = results[model].get(level) or {}
                value = row.get(metric)
                x = j + (k - (len(models) - 1) / 2) * width
                if value is None:
                    ax.text(x, 0.01, "n/m", ha="center", fontsize=6, rotation=90)
                    continue
                ax.bar(x, value, width, color=f"C{k}", label=model if j == 0 else None)
        ax.set_xticks(range(len(levels)), [f"level {lv}" for lv in levels])
        ax.set_ylim(0, 1)
        ax.set_title(metric, fontsize=9)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    return _save(fig, plt, out_png)
