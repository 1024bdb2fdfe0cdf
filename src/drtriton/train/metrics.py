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


def plot_learning_curves(csv_path: Path, out_png: Path, keys: list[str] | None = None) -> Path | None:
    """One panel per metric; returns the PNG path, or None when matplotlib is missing or nothing logged."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    series = read_metrics(csv_path)
    keys = [k for k in (keys or sorted(series)) if k in series]
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
