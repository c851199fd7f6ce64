"""The comparison's pictures: one line per run over epochs, and the objective against each
swept parameter. Each `*_figure` function returns the figure (for a test to read back);
`plot_*` writes it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.reports.canvas import TITLE_Y, figure, finish, save, whole_epochs
from pipeline.reports.sweep_analysis import LOG_SCALE_PARAMS, ordered

LOG_SPAN = 100  # a positive numeric parameter whose largest value is this many times its smallest: log axis
PANELS_PER_ROW = 3
LINE_STYLES = ("-", "--", ":")  # a run's line: its colour (ten in turn) and, past ten runs, its style
MAX_HUES = 10  # a categorical parameter with more values than this colours no points


def learning_curves_figure(
    curves: dict[str, list[tuple[int, float]]], key: str, ylabel: str | None = None
) -> Any:
    """A line per run (the legend: its name) of `key` over epochs, on a log scale, no two
    runs alike in colour and style up to 30 runs; runs whose curve is always 0 are named in
    red instead."""
    fig, axes = figure(1, 1, (9, 5.5), layout="constrained")
    ax = axes[0, 0]
    for index, (name, points) in enumerate(curves.items()):
        if points:  # past the ten colours, the next ten dashed, then dotted
            steps, values = zip(*points, strict=True)
            ax.plot(steps, values, label=name, linewidth=1.4, linestyle=LINE_STYLES[index // 10 % 3])
    whole_epochs(ax)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel or f"{key} (MSE on the scaled target)")
    ax.set_yscale("log")
    flat = [name for name, points in curves.items() if points and max(v for _, v in points) <= 0]
    if flat:
        note = f"always 0, not drawn on this log scale: {', '.join(flat)}"
        ax.text(0.01, 0.01, note, transform=ax.transAxes, fontsize=8, color="crimson")
    ax.set_title(f"{key} per epoch, one line per run", y=TITLE_Y)
    ax.grid(True, alpha=0.3)
    if any(curves.values()):
        ax.legend(fontsize=7, loc="best", ncol=1 + len(curves) // 12)
    return finish(fig)


def plot_learning_curves(
    curves: dict[str, list[tuple[int, float]]], path: Path, key: str, ylabel: str | None = None
) -> Path:
    """`learning_curves_figure` written to `path`."""
    return save(learning_curves_figure(curves, key, ylabel), path)


def _numbers(frame: pd.DataFrame, param: str) -> pd.Series | None:
    values = pd.to_numeric(frame[param], errors="coerce")
    return values if bool(values.notna().all()) else None


def log_axis(param: str, values: pd.Series) -> bool:
    """Whether a numeric parameter is drawn on a log axis: all positive and spanning two
    decades, or one decade for a rate or penalty."""
    if not (values > 0).all():
        return False
    span = float(values.max() / values.min())
    return span >= LOG_SPAN or (span >= 10 and param.rsplit(".", 1)[-1] in LOG_SCALE_PARAMS)


def metric_vs_param_figure(frame: pd.DataFrame, params: list[str], metric: str) -> Any:
    """A panel per parameter in `params`: `metric` per run against it. A numeric parameter
    on a numeric axis (log where `log_axis` says); a categorical one as a point per run
    above its value, the values as tick labels. In every other panel the points are coloured
    by the categorical parameter with the most values (at most MAX_HUES; a legend names them),
    so runs at the same value are told apart. Runs without a finite `metric` are counted in red."""
    ok = frame[metric].map(lambda v: isinstance(v, (int, float)) and math.isfinite(v))
    text = {p: frame[p].map(lambda v: "-" if pd.isna(v) else str(v)) for p in params}
    categorical = [p for p in params if _numbers(frame, p) is None and text[p].nunique() <= MAX_HUES]
    hue = max(categorical, key=lambda p: text[p].nunique(), default=None)
    cols = min(len(params), PANELS_PER_ROW)
    rows = -(-len(params) // cols)
    fig, axes = figure(rows, cols, (5.2 * cols + 0.6, 4.4 * rows + 0.4), layout="constrained")
    for ax in axes.flat[len(params) :]:
        ax.set_visible(False)
    for ax, param in zip(axes.flat, params, strict=False):
        numbers = _numbers(frame, param)
        if numbers is None:
            labels = ordered(text[param])
            xs = text[param].map({label: i for i, label in enumerate(labels)})
            slanted = len(labels) > 4
            ax.set_xticks(
                range(len(labels)),
                labels,
                rotation=30 if slanted else 0,
                ha="right" if slanted else "center",
                fontsize=8,
            )
            ax.set_xlim(-0.5, len(labels) - 0.5)
        else:
            xs = numbers
            if log_axis(param, numbers):
                ax.set_xscale("log")
        coloured = hue is not None and param != hue
        for index, value in enumerate(ordered(text[hue]) if coloured else [None]):
            chosen = ok & (text[hue] == value) if coloured else ok
            ax.scatter(xs[chosen], frame.loc[chosen, metric], s=36, color=f"C{index}", label=value, zorder=3)
        if coloured:
            ax.legend(title=hue, fontsize=7, title_fontsize=7)
        failed = int((~ok).sum())
        if failed:
            note = f"{failed} run(s) without {metric} (diverged or failed)"
            ax.text(0.01, 0.98, note, transform=ax.transAxes, va="top", fontsize=8, color="crimson")
        ax.set_xlabel(param)
        ax.set_ylabel(metric)
        ax.set_title(f"{metric} against {param}", y=TITLE_Y, fontsize=10)
        ax.grid(True, alpha=0.3)
    return finish(fig)


def plot_metric_vs_param(frame: pd.DataFrame, params: list[str], metric: str, path: Path) -> Path:
    """`metric_vs_param_figure` written to `path`."""
    return save(metric_vs_param_figure(frame, params, metric), path)
