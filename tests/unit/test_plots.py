"""The pictures (pipeline.reports.plots): every drawing function writes a PNG file and returns
its path, leaves no figure open in pyplot, and `draw` reports a failure instead of raising."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from pipeline.reports import plots


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

# each drawing function, once per branch it takes (log scale or not, one or two partitions,
# units subsampled, no dead or saturated units to show, ...)
SEQUENCES: dict[str, list[Callable[[Path], Any]]] = {
    "learning_curves": [
        lambda p: plots.learning_curves(history(100, 1, 0, {}), p, 80, 70),
        lambda p: plots.learning_curves(ZERO_LOSS, p, None, 30),
    ],
    "layer_diagnostics": [
        lambda p: plots.layer_diagnostics(
            history(50, 100, 3, {"h1": "tanh", "h2": "relu", "out": "linear"}), p
        ),
        lambda p: plots.layer_diagnostics(history(70, 1, 4, {"hidden_1": "linear", "output": "linear"}), p),
    ],
    "predicted_vs_actual": [
        lambda p: plots.predicted_vs_actual(predictions(100, 1000, 0, ("validation", "test")), "y", p),
        lambda p: plots.predicted_vs_actual(predictions(30, 2, 1, ("validation",)), "z", p),
    ],
    "residuals": [
        lambda p: plots.residuals(predictions(100, 1000, 0, ("validation", "test")), "y", p),
    ],
    "function_fit": [
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
        lambda p: plots.unit_activations(*unit_values(2, 80, 1), "x", p),
        lambda p: plots.unit_activations(*unit_values(1, 3, 2), "input", p),
    ],
}


def png_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        assert image.format == "PNG"
        return image.size


@pytest.mark.parametrize("figure", sorted(SEQUENCES))
def test_each_picture_is_a_png_file_at_the_path_returned_and_no_figure_stays_open(
    figure: str, tmp_path: Path
) -> None:
    import matplotlib.pyplot as plt

    for index, draw in enumerate(SEQUENCES[figure]):
        path = tmp_path / "figures" / f"{figure}{index}.png"  # the folder is made
        assert draw(path) == path
        width, height = png_size(path)
        assert width > 300 and height > 300, f"picture {index}: {width}x{height}"
    assert plt.get_fignums() == []  # made without pyplot, which would keep each one open


def test_layer_diagnostics_without_diagnostics_draws_nothing(tmp_path: Path) -> None:
    assert plots.layer_diagnostics(history(10, 1, 0, {}), tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()


def test_draw_returns_the_file_or_what_went_wrong(tmp_path: Path) -> None:
    frame = history(5, 1, 0, {})
    assert plots.draw("learning_curves", (frame, tmp_path / "ok.png")) == (tmp_path / "ok.png", None)
    path, failure = plots.draw("learning_curves", (None, tmp_path / "bad.png"))
    assert path is None and failure is not None and failure.startswith("TypeError")
    assert not (tmp_path / "bad.png").exists()
