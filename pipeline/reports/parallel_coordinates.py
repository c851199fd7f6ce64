"""The parallel-coordinates picture of a sweep: every swept parameter and the objective as
parallel vertical axes, one line per run, coloured by the objective with a colour bar whose
ends say best and worst."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.reports.canvas import TITLE_Y, figure, finish, save
from pipeline.reports.sweep_analysis import LOG_SCALE_PARAMS, ordered, swept

HIGHER_IS_BETTER = ("accuracy", "r2", "f1", "auc")  # a metric whose name holds one of these
LABEL_BOX = {"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1}  # over the lines
MIN_LABEL_GAP = 0.04  # of the axis's height: numeric labels closer than this are thinned out
MAX_VALUE_LABELS = 8  # a numeric axis with more distinct values than this labels its ends only


def higher_is_better(metric: str) -> bool:
    """Whether a larger `metric` is the better one (accuracy, R^2, F1, AUC); lower otherwise."""
    return any(word in metric for word in HIGHER_IS_BETTER)


def _text(values: pd.Series) -> pd.Series:
    return values.map(lambda v: "-" if pd.isna(v) else str(v))


def _axis(values: pd.Series, column: str) -> tuple[np.ndarray, list[tuple[float, str]], str]:
    """A parameter's runs placed on [0, 1], the labels of its axis (position, text) and its
    name: numbers by value (log10 for rates and penalties spanning decades), anything else
    one evenly spaced position per value, in their natural order (sweep_analysis.ordered)."""
    numbers = pd.to_numeric(values, errors="coerce")
    name = column
    if numbers.notna().all():
        shown = numbers.to_numpy(dtype=float)
        if column.rsplit(".", 1)[-1] in LOG_SCALE_PARAMS and (shown > 0).all():
            shown, name = np.log10(shown), f"{column} (log)"
        low, high = float(shown.min()), float(shown.max())
        placed = (shown - low) / (high - low) if high > low else np.full(len(shown), 0.5)
        distinct = sorted(set(zip(placed.tolist(), numbers.tolist(), strict=True)))
        if len(distinct) > MAX_VALUE_LABELS:
            distinct = [distinct[0], distinct[-1]]
        kept = [distinct[0]]  # a label too close to the one below it would be written over it
        for at, value in distinct[1:]:
            if at - kept[-1][0] >= MIN_LABEL_GAP or (at, value) == distinct[-1]:
                kept = kept[:-1] if at - kept[-1][0] < MIN_LABEL_GAP and len(kept) > 1 else kept
                kept.append((at, value))
        return placed, [(float(at), f"{value:.3g}") for at, value in kept], name
    text = _text(values)
    labels = ordered(text)
    spots = np.linspace(0, 1, len(labels)) if len(labels) > 1 else np.array([0.5])
    position = dict(zip(labels, spots.tolist(), strict=True))
    return text.map(position).to_numpy(dtype=float), [(position[v], v) for v in labels], name


def parallel_coordinates_figure(frame: pd.DataFrame, metric: str) -> Any | None:
    """The figure: an axis per swept parameter (its values as labels beside it: numbers at
    their place, names evenly spaced) and the objective last; a line per run with a finite
    objective, coloured by it on viridis, dark at the best end (the lowest value, or the
    highest for HIGHER_IS_BETTER metrics); a colour bar labelled best and worst. None
    without a swept parameter or a run with the objective."""
    if metric not in frame:
        return None
    objective = pd.to_numeric(frame[metric], errors="coerce")
    data = frame[np.isfinite(objective)].reset_index(drop=True)
    columns = swept(data)
    if not columns or data.empty:
        return None
    scores = pd.to_numeric(data[metric]).to_numpy(dtype=float)
    axes_data = [_axis(data[c], c) for c in columns]
    low, high = float(scores.min()), float(scores.max())
    placed = (scores - low) / (high - low) if high > low else np.full(len(scores), 0.5)
    axes_data.append((placed, [(0.0, f"{low:.3g}"), (1.0, f"{high:.3g}")], metric))
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    higher = higher_is_better(metric)
    cmap = colormaps["viridis_r" if higher else "viridis"]  # dark at the best end
    norm = Normalize(vmin=low, vmax=high if high > low else low + 1)
    n = len(axes_data)
    fig, axes = figure(1, 1, (max(7.0, 2.2 * n + 1.5), 5.5), layout="constrained")
    ax = axes[0, 0]
    positions = np.column_stack([values for values, _, _ in axes_data])
    names = data["run"].astype(str) if "run" in data else pd.Series([""] * len(data))
    for row, score, name in zip(positions, scores, names, strict=True):
        ax.plot(
            range(n),
            row,
            color=cmap(norm(score)),
            alpha=0.85,
            linewidth=1.4,
            marker="o",
            markersize=3,
            label=name,
        )
    ax.vlines(range(n), 0, 1, colors="0.3", linewidth=1)
    for index, (_, labels, _) in enumerate(axes_data):
        for at, label in labels:
            ax.text(index - 0.04, at, label, ha="right", va="center", fontsize=7, bbox=LABEL_BOX, zorder=3)
    ax.set_xticks(range(n), [name.replace(".", ".\n", 1) for _, _, name in axes_data], fontsize=8)
    ax.set_xlim(-0.6, n - 0.6)
    ax.set_ylim(-0.05, 1.05)
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, fraction=0.04, pad=0.02)
    best, worst = (high, low) if higher else (low, high)
    bar.set_ticks(
        [best, worst] if high > low else [low],
        labels=[f"best\n{best:.3g}", f"worst\n{worst:.3g}"][: 1 + (high > low)],
    )
    bar.set_label(metric)
    side = "highest" if higher else "lowest"
    ax.set_title(
        f"The swept parameters and {metric}:\na line per run, dark where it is best ({side})",
        y=TITLE_Y,
        fontsize=10,
    )
    return finish(fig)


def plot_parallel_coordinates(frame: pd.DataFrame, metric: str, path: Path) -> Path | None:
    """`parallel_coordinates_figure` written to `path`; None (nothing written) when it has none."""
    fig = parallel_coordinates_figure(frame, metric)
    return None if fig is None else save(fig, path)
