"""The training report: metrics.json (task, model, configs, per-epoch history, final metrics) and
curves.png (the history plotted), written next to the checkpoints. The model card of a saved run
(zoo.save(model, dir, run=dir)) reads both."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

__all__ = ["write_report", "plot_history", "METRICS_FILE", "CURVES_FILE"]

METRICS_FILE, CURVES_FILE = "metrics.json", "curves.png"
SPLITS = ("train", "val", "test")


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _finite(value):
    """JSON has no NaN/inf: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def write_report(out_dir: Path, report: dict) -> tuple[Path, Path | None]:
    """Write metrics.json and (when there is a history) curves.png into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = out_dir / METRICS_FILE
    _atomic_write(metrics, (json.dumps(_finite(report), indent=2) + "\n").encode())
    curves = None
    if report.get("history"):
        curves = out_dir / CURVES_FILE
        plot_history(report["history"], curves, title=f"{report.get('architecture') or 'model'} on {report.get('task')}")
    return metrics, curves


def _series(history: list[dict]) -> dict[str, dict[str, list]]:
    """{metric: {split: [(epoch, value), ...]}} from keys like 'val_rmse' and 'train_loss'."""
    out: dict[str, dict[str, list]] = {}
    for entry in history:
        for key, value in entry.items():
            split, _, metric = key.partition("_")
            if split in SPLITS and metric and isinstance(value, (int, float)) and value is not None:
                out.setdefault(metric, {}).setdefault(split, []).append((entry["epoch"], value))
    return out


def plot_history(history: list[dict], path: Path, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure  # no pyplot: no global figure state, safe in threads

    series = _series(history)
    names = ["loss", *sorted(m for m in series if m != "loss")] if "loss" in series else sorted(series)
    fig = Figure(figsize=(4.2 * max(len(names), 1), 3.4), layout="constrained")
    axes = fig.subplots(1, max(len(names), 1), squeeze=False)[0]
    for ax, name in zip(axes, names):
        for split in SPLITS:
            points = [(e, v) for e, v in series[name].get(split, []) if math.isfinite(v)]
            if points:
                epochs, values = zip(*points)
                ax.plot(epochs, values, marker="o" if len(points) < 30 else None, markersize=3, label=split)
        values = [v for pts in series[name].values() for _, v in pts if math.isfinite(v)]
        if values and min(values) > 0 and max(values) / min(values) > 20:
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}.png")
    fig.savefig(tmp, dpi=100)
    os.replace(tmp, path)
    return path
