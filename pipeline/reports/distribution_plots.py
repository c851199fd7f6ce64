"""Distributions inside the network at one moment of training: a row per Dense layer, a
histogram per quantity (pre-activations, activations, kernel gradient, kernel weights)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pipeline.reports.canvas import TITLE_Y, figure, save

COLUMNS = (
    ("preactivation", "pre-activation"),
    ("activation", "activation"),
    ("kernel_gradient", "kernel gradient"),
    ("kernel", "kernel weights"),
)
BINS = 40


def layer_distributions(values: dict[str, dict[str, np.ndarray]], moment: str, path: Path) -> Path:
    """`values`: layer -> quantity -> its values (any shape). Each histogram is titled with
    the values' standard deviation; a quantity that is constant is drawn as one bar."""
    layers = list(values)
    fig, axes = figure(len(layers), len(COLUMNS), (15, 1.9 * len(layers) + 1.2))
    for row, layer in enumerate(layers):
        for col, (quantity, label) in enumerate(COLUMNS):
            ax = axes[row, col]
            flat = np.asarray(values[layer][quantity], dtype="float64").reshape(-1)
            flat = flat[np.isfinite(flat)]
            if flat.size:
                spread = float(flat.std())
                ax.hist(flat, bins=BINS if spread > 0 else 1, color=f"C{col}", alpha=0.85)
                when = f"{moment}, " if row == 0 and col == 0 else ""
                ax.set_title(f"{when}{layer}: {label}, std {spread:.3g}", fontsize=8, y=TITLE_Y)
            ax.tick_params(labelsize=7)
    return save(fig, path)


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
