"""The comparison's pictures: one line per run over epochs, and a metric against a parameter."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from pipeline.reports.canvas import TITLE_Y


def plot_learning_curves(
    curves: dict[str, list[tuple[int, float]]], path: Path, key: str, ylabel: str | None = None
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=110)
    for name, points in curves.items():
        if points:
            steps, values = zip(*points, strict=True)
            ax.plot(steps, values, label=name, linewidth=1.4)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel or f"{key} (MSE on the scaled target)")
    ax.set_yscale("log")
    flat = [name for name, points in curves.items() if points and max(v for _, v in points) <= 0]
    if flat:
        ax.text(
            0.01,
            0.01,
            f"always 0, not drawn on this log scale: {', '.join(flat)}",
            transform=ax.transAxes,
            fontsize=8,
            color="crimson",
        )
    ax.set_title(f"{key} per epoch, one line per run", y=TITLE_Y)
    ax.grid(True, alpha=0.3)
    if any(curves.values()):
        ax.legend(fontsize=7, loc="upper right", ncol=1 + len(curves) // 12)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_metric_vs_param(frame: pd.DataFrame, param: str, metric: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    values = pd.to_numeric(frame[param], errors="coerce")
    numeric = bool(values.notna().all())
    ok = frame[metric].notna() & frame[metric].map(lambda v: math.isfinite(v) if v == v else False)
    if numeric:
        ax.scatter(values[ok], frame.loc[ok, metric], s=30)
        positive = values[values > 0]
        if len(positive) == len(values) and positive.max() / positive.min() > 100:
            ax.set_xscale("log")
    else:
        text = frame[param].map(lambda v: "-" if pd.isna(v) else str(v))
        labels = sorted(text.unique())
        position = {label: i for i, label in enumerate(labels)}
        xs = text.map(position)
        ax.scatter(xs[ok], frame.loc[ok, metric], s=30)
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
    failed = frame.loc[~ok]
    if not failed.empty:
        ax.text(
            0.01,
            0.98,
            f"{len(failed)} run(s) without {metric} (diverged or failed)",
            transform=ax.transAxes,
            va="top",
            fontsize=8,
            color="crimson",
        )
    ax.set_xlabel(param)
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} against {param}", y=TITLE_Y)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
