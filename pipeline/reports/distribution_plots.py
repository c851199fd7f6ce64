"""Distributions inside the network over training, in one picture: a row per Dense layer, a
column per quantity (pre-activations, activations, kernel gradient, kernel weights), each
moment (the start, epoch 1, ..., the end) a histogram outline of its own colour on shared
bins, so how training moved each distribution reads in one glance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pipeline.reports.canvas import TITLE_Y, figure, finish, save

COLUMNS = (
    ("preactivation", "pre-activation"),
    ("activation", "activation"),
    ("kernel_gradient", "kernel gradient"),
    ("kernel", "kernel weights"),
)
BINS = 40


def layer_distributions_figure(moments: dict[str, dict[str, dict[str, np.ndarray]]]) -> Any:
    """`moments`: moment -> layer -> quantity -> its values (any shape). Each panel's title
    gives the standard deviation at the first and the last moment."""
    names = list(moments)
    layers = list(moments[names[0]])
    fig, axes = figure(len(layers), len(COLUMNS), (15, 1.7 * len(layers) + 1.0))
    for row, layer in enumerate(layers):
        for col, (quantity, label) in enumerate(COLUMNS):
            ax = axes[row, col]
            series = {m: _finite(moments[m][layer][quantity]) for m in names}
            pooled = np.concatenate([v for v in series.values() if v.size] or [np.zeros(1)])
            low, high = float(pooled.min()), float(pooled.max())
            edges = np.linspace(low, high, BINS + 1) if high > low else np.array([low - 0.5, low + 0.5])
            for index, (moment, values) in enumerate(series.items()):
                counts, _ = np.histogram(values, bins=edges)
                ax.stairs(counts, edges, color=f"C{index}", linewidth=1.2, label=moment)
            ends = (series[names[0]], series[names[-1]])
            first, last = (float(v.std()) if v.size else np.nan for v in ends)
            ax.set_title(f"{layer}: {label}, std {first:.3g} -> {last:.3g}", fontsize=8, y=TITLE_Y)
            ax.tick_params(labelsize=7)
    axes[0, 0].legend(fontsize=7)
    return finish(fig)


def layer_distributions(moments: dict[str, dict[str, dict[str, np.ndarray]]], path: Path) -> Path:
    """`layer_distributions_figure` written to `path`."""
    return save(layer_distributions_figure(moments), path)


def _finite(values: Any) -> np.ndarray:
    flat = np.asarray(values, dtype="float64").reshape(-1)
    return flat[np.isfinite(flat)]


def plotted(values: dict[str, Any], limit: int = 20_000, seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """At most `limit` values of each quantity (a fixed random subset), as float32: what a
    picture needs, small enough to hand to the drawing process."""
    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, np.ndarray]] = {}
    for layer, quantities in values.items():
        out[layer] = {}
        for quantity, array in quantities.items():
            flat = np.asarray(array, dtype="float32").reshape(-1)
            out[layer][quantity] = flat if flat.size <= limit else rng.choice(flat, limit, replace=False)
    return out
