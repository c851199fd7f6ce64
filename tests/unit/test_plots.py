"""The pictures (pipeline.reports.plots): every drawing function writes a PNG file and returns
its path, leaves no figure open in pyplot, and `draw` reports a failure instead of raising;
each figure, read back before it is saved, shows its data, axes and labels, none cut off."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from pipeline.reports import canvas, plots


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


def lines_of(ax: Any) -> dict[str, tuple[list[float], list[float]]]:
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.get_lines()}


def test_learning_curves_show_both_losses_and_the_stopping_epochs() -> None:
    frame = history(100, 1, 0, {})
    fig = plots.learning_curves_figure(frame, 80, 70)
    ax = fig.axes[0]
    lines = lines_of(ax)
    assert lines["training loss"] == (list(frame["epoch"]), list(frame["train_loss"]))
    assert lines["validation loss"][1] == list(frame["val_loss"])
    assert lines["best epoch 70 (restored)"][0] == [70, 70] and lines["stopped at epoch 80"][0] == [80, 80]
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "loss (MSE on the scaled target, plus penalties)"
    short = plots.learning_curves_figure(history(4, 1, 0, {})).axes[0]
    assert all(float(tick).is_integer() for tick in short.get_xticks())  # 4 epochs: no 0.5
    assert plots.learning_curves_figure(ZERO_LOSS).axes[0].get_yscale() == "linear"  # 0 has no log
    classifier = frame.assign(val_accuracy=np.linspace(0.5, 0.9, 100), train_accuracy=0.8)
    accuracy = plots.learning_curves_figure(classifier).axes[1]
    assert lines_of(accuracy)["validation accuracy"][1] == list(classifier["val_accuracy"])
    assert plots.learning_curves_figure(classifier).axes[0].get_ylabel().startswith("loss (cross-entropy")


def test_predicted_vs_actual_and_residuals_plot_each_row() -> None:
    rows = predictions(30, 2, 1, ("validation", "test"))
    fig = plots.predicted_vs_actual_figure(rows, "price")
    for ax, part in zip(fig.axes, ("validation", "test"), strict=True):
        frame = rows[part]
        assert ax.collections[0].get_offsets().tolist() == frame[["actual", "predicted"]].to_numpy().tolist()
        low = min(frame["actual"].min(), frame["predicted"].min())
        high = max(frame["actual"].max(), frame["predicted"].max())
        assert lines_of(ax)["perfect prediction"] == ([low, high], [low, high])
        assert ax.get_title() == f"{part} set (30 rows)"
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("actual price", "predicted price")
    residual = plots.residuals_figure(rows, "price").axes[1]
    test = rows["test"]
    expected = np.column_stack([test["predicted"], test["predicted"] - test["actual"]])
    assert np.allclose(residual.collections[0].get_offsets(), expected)
    assert residual.get_title() == "Residuals, test set"


def test_layer_diagnostics_show_each_layers_gradient_and_its_dead_or_saturated_units() -> None:
    frame = history(50, 100, 3, {"h1": "tanh", "h2": "relu", "out": "linear"})
    top, bottom = plots.layer_diagnostics_figure(frame).axes
    assert {k: v[1] for k, v in lines_of(top).items()} == {
        layer: list(frame[f"diag/{layer}/grad_norm"]) for layer in ("h1", "h2", "out")
    }
    assert top.get_yscale() == "log"
    shown = lines_of(bottom)
    assert set(shown) == {"h2 dead (ReLU)", "h1 saturated"}
    assert shown["h2 dead (ReLU)"][1] == list(frame["diag/h2/dead_fraction"])
    assert bottom.get_ylim() == (-0.03, 1.03)
    assert all(float(tick).is_integer() for tick in bottom.get_xticks())  # whole epochs
    linear = plots.layer_diagnostics_figure(history(5, 1, 4, {"output": "linear"})).axes[1]
    assert [t.get_text() for t in linear.texts] == ["no ReLU, tanh or sigmoid hidden layer"]


def test_function_fit_draws_the_fitted_curve_over_the_points() -> None:
    grid = np.linspace(-5, 5, 40)
    train = (np.linspace(-5, 5, 10), np.zeros(10))
    ax = plots.function_fit_figure(grid, np.sin(grid), {"train": train}, "x", "y").axes[0]
    assert lines_of(ax)["fitted function"] == (list(grid), list(np.sin(grid)))
    assert ax.collections[0].get_offsets().tolist() == np.column_stack(train).tolist()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train points (10)", "fitted function"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x", "y")


def test_unit_activations_draw_each_unit_and_the_dead_ones_red() -> None:
    grid, values, names = unit_values(2, 80, 1)
    fig = plots.unit_activations_figure(grid, values, names, "x")
    first = fig.axes[0]
    assert len(first.get_lines()) == plots.MAX_UNIT_LINES
    assert first.get_title().startswith("hidden_1: 80 units, ") and first.get_title().endswith(
        "64 of 80 shown"
    )
    assert (
        first.get_lines()[0].get_color() == "crimson" and list(first.get_lines()[0].get_ydata()) == [0.0] * 50
    )
    small = plots.unit_activations_figure(*unit_values(1, 3, 2), "input").axes[0]
    assert [list(line.get_ydata()) for line in small.get_lines()] == unit_values(1, 3, 2)[1][0].T.tolist()
    assert small.get_xlabel() == "input"


FIGURES: dict[str, Callable[[], Any]] = {
    "learning_curves": lambda: plots.learning_curves_figure(history(100, 1, 0, {}), 80, 70),
    "layer_diagnostics": lambda: plots.layer_diagnostics_figure(
        history(50, 100, 3, {"h1": "tanh", "h2": "relu"})
    ),
    "predicted_vs_actual": lambda: plots.predicted_vs_actual_figure(
        predictions(10, 1000, 0, ("validation", "test")), "a rather long target name"
    ),
    "residuals": lambda: plots.residuals_figure(predictions(10, 1000, 0, ("validation", "test")), "y"),
    "function_fit": lambda: plots.function_fit_figure(np.arange(3.0), np.arange(3.0), {}, "x", "y"),
    "unit_activations": lambda: plots.unit_activations_figure(*unit_values(2, 80, 1), "x"),
}


@pytest.mark.parametrize("figure", sorted(FIGURES))
def test_no_label_is_cut_off_at_the_edge(figure: str) -> None:
    assert canvas.outside(FIGURES[figure]()) == []


def test_a_label_past_the_edge_is_found() -> None:
    fig, axes = canvas.figure(1, 1, (4, 3))
    axes[0, 0].set_title("a title far too long to fit in a picture four inches wide, surely")
    fig.text(0.5, 1.02, "above the top")
    found = canvas.outside(canvas.finish(fig))
    assert [text.split("' (")[0] for text in found] == [
        "'above the top",
        "'a title far too long to fit in a picture four inches wide, surely",
    ]


def test_layer_distributions_draw_a_histogram_per_moment_on_shared_bins() -> None:
    from pipeline.reports.distribution_plots import BINS, COLUMNS, layer_distributions_figure

    rng = np.random.default_rng(0)
    quantities = [q for q, _ in COLUMNS]
    moments = {
        moment: {"hidden_1": {q: rng.normal(0, scale, 500) for q in quantities}}
        for moment, scale in (("start", 1.0), ("end", 3.0))
    }
    fig = layer_distributions_figure(moments)
    first = fig.axes[0]
    start, end = first.patches  # a stairs outline per moment
    assert start.get_label() == "start" and end.get_label() == "end"
    counts, edges = start.get_data().values, start.get_data().edges
    assert len(edges) == BINS + 1 and np.array_equal(edges, end.get_data().edges)
    assert counts.sum() == 500 and np.array_equal(
        counts, np.histogram(moments["start"]["hidden_1"]["preactivation"], edges)[0]
    )
    spread = (
        moments["start"]["hidden_1"]["preactivation"].std(),
        moments["end"]["hidden_1"]["preactivation"].std(),
    )
    assert first.get_title() == f"hidden_1: pre-activation, std {spread[0]:.3g} -> {spread[1]:.3g}"
    assert [ax.get_title().split(",")[0] for ax in fig.axes] == [f"hidden_1: {label}" for _, label in COLUMNS]
    assert canvas.outside(fig) == []
