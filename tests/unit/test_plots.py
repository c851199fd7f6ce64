"""Pictures drawn on a kept figure (pipeline.plots reuses the last figure of each layout)
are pixel for pixel the pictures a new figure gives, whatever was drawn on it before."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from pipeline import plots


def history(epochs: int, scale: float, seed: int, layers: dict[str, str]) -> pd.DataFrame:
    """A history with losses spanning `scale` decades-ish and diagnostics for `layers`
    ({name: "relu" | "tanh" | "linear"})."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "epoch": np.arange(1, epochs + 1),
            "train_loss": np.geomspace(3 * scale, 0.01, epochs) + rng.random(epochs) * 0.01,
            "val_loss": np.geomspace(2 * scale, 0.02, epochs),
        }
    )
    for name, activation in layers.items():
        frame[f"diag/{name}/grad_norm"] = rng.random(epochs) * 10 * scale + 0.01
        if activation == "relu":
            frame[f"diag/{name}/dead_fraction"] = rng.random(epochs)
        elif activation == "tanh":
            frame[f"diag/{name}/saturated_fraction"] = rng.random(epochs) / 2
    return frame


def predictions(rows: int, spread: float, seed: int, parts: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    return {
        part: pd.DataFrame({"actual": rng.random(rows) * spread, "predicted": rng.random(rows) * spread - 5})
        for part in parts
    }


def unit_values(layers: int, units: int, seed: int) -> tuple[np.ndarray, list[np.ndarray], list[str]]:
    rng = np.random.default_rng(seed)
    grid = np.linspace(-2, 2, 50)
    values = [np.maximum(rng.normal(size=(50, units)) * (i + 1), 0.0) for i in range(layers)]
    values[0][:, 0] = 0.0  # a dead unit, drawn in red
    return grid, values, [f"hidden_{i + 1}" for i in range(layers)]


ZERO_LOSS = history(40, 1, 9, {"hidden_1": "relu"}).assign(train_loss=0.0)  # no log scale

SEQUENCES: dict[str, list[Callable[[Path], Any]]] = {
    "learning_curves": [
        lambda p: plots.learning_curves(history(100, 1, 0, {}), p, 80, 70),
        lambda p: plots.learning_curves(history(60, 50, 1, {}), p),
        lambda p: plots.learning_curves(ZERO_LOSS, p, None, 30),
        lambda p: plots.learning_curves(history(30, 0.1, 2, {}), p, 25, None),
    ],
    "layer_diagnostics": [
        lambda p: plots.layer_diagnostics(history(100, 1, 0, {"hidden_1": "relu", "output": "linear"}), p),
        lambda p: plots.layer_diagnostics(
            history(50, 100, 3, {"h1": "tanh", "h2": "relu", "out": "linear"}), p
        ),
        lambda p: plots.layer_diagnostics(history(70, 1, 4, {"hidden_1": "linear", "output": "linear"}), p),
    ],
    "predicted_vs_actual": [
        lambda p: plots.predicted_vs_actual(predictions(100, 1000, 0, ("validation", "test")), "y", p),
        lambda p: plots.predicted_vs_actual(predictions(30, 2, 1, ("validation", "test")), "z units", p),
        lambda p: plots.predicted_vs_actual(predictions(30, 2, 1, ("validation",)), "z", p),
    ],
    "residuals": [
        lambda p: plots.residuals(predictions(100, 1000, 0, ("validation", "test")), "y", p),
        lambda p: plots.residuals(predictions(500, 0.5, 2, ("validation", "test")), "other", p),
    ],
    "function_fit": [
        lambda p: plots.function_fit(
            np.linspace(0, 1, 20),
            np.linspace(0, 1, 20) ** 2,
            {"train": (np.random.default_rng(0).random(30), np.random.default_rng(1).random(30))},
            "x",
            "y",
            p,
        ),
        lambda p: plots.function_fit(
            np.linspace(-5, 5, 40),
            np.sin(np.linspace(-5, 5, 40)) * 100,
            {
                "train": (np.linspace(-5, 5, 10), np.zeros(10)),
                "validation": (np.linspace(-5, 5, 7), np.ones(7)),
            },
            "input",
            "target",
            p,
        ),
    ],
    "unit_activations": [
        lambda p: plots.unit_activations(*unit_values(2, 8, 0), "x", p),
        lambda p: plots.unit_activations(*unit_values(2, 80, 1), "x", p),
        lambda p: plots.unit_activations(*unit_values(1, 3, 2), "input", p),
    ],
}


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGBA"))


@pytest.mark.parametrize("figure", sorted(SEQUENCES))
def test_a_kept_figure_draws_the_same_pixels_as_a_new_one(figure: str, tmp_path: Path) -> None:
    draws = SEQUENCES[figure]
    plots.forget_figures()
    for index, draw in enumerate(draws):  # one after the other: each on the figure the last left
        draw(tmp_path / f"kept{index}.png")
    for index, draw in enumerate(draws):  # each on a new figure
        plots.forget_figures()
        draw(tmp_path / f"new{index}.png")
    for index in range(len(draws)):
        kept, new = pixels(tmp_path / f"kept{index}.png"), pixels(tmp_path / f"new{index}.png")
        assert kept.shape == new.shape, f"picture {index}"
        assert (kept == new).all(), f"picture {index}: {(kept != new).any(axis=2).sum()} pixels differ"


def test_kept_figures_are_bounded_and_not_left_open_in_pyplot(tmp_path: Path) -> None:
    plots.forget_figures()
    for layers in range(1, plots.KEPT_FIGURES + 4):  # a new layout each time
        plots.unit_activations(*unit_values(layers, 2, layers), "x", tmp_path / f"u{layers}.png")
    assert len(plots._kept.figures) == plots.KEPT_FIGURES
    import matplotlib.pyplot as plt

    assert plt.get_fignums() == []
