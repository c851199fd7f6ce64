"""The sweep's parallel-coordinates picture (pipeline.reports.parallel_coordinates), read back
from the figure: an axis per swept parameter (names as tick labels), each run's line where
its values are and coloured by its objective, a colour bar whose ends say best and worst,
and nothing cut off at the figure's edge."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps

from pipeline.reports.canvas import outside
from pipeline.reports.parallel_coordinates import parallel_coordinates_figure, plot_parallel_coordinates

METRIC = "validation_mse_scaled"
# the optimizers preset's shape: adam and rmsprop share a learning rate
OPTIMIZERS = pd.DataFrame(
    {
        "run": ["sgd", "momentum", "adam", "rmsprop"],
        "optimizer.learning_rate": ["0.01", "0.03", "0.001", "0.001"],
        "optimizer.momentum": ["0.0", "0.9", "0.0", "0.0"],
        "optimizer.name": ["sgd", "sgd", "adam", "rmsprop"],
        "training.seed": ["1", "1", "1", "1"],
        METRIC: [1.11, 0.60, 0.507, 0.55],
    }
)


def lines_by_run(fig) -> dict[str, object]:
    return {line.get_label(): line for line in fig.axes[0].get_lines()}


def labels_at(ax, index: int) -> dict[str, float]:
    """The value labels beside the `index`-th axis: text -> height."""
    return {t.get_text(): t.get_position()[1] for t in ax.texts if round(t.get_position()[0]) == index}


def luminance(colour) -> float:
    r, g, b = colour[:3]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def bar_ends(fig) -> dict[float, str]:
    bar = fig.axes[1]
    return dict(zip(bar.get_yticks().round(4), [t.get_text() for t in bar.get_yticklabels()], strict=True))


def test_every_swept_parameter_is_an_axis_and_the_names_are_its_tick_labels() -> None:
    fig = parallel_coordinates_figure(OPTIMIZERS, METRIC)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "optimizer.\nlearning_rate (log)",
        "optimizer.\nmomentum",
        "optimizer.\nname",
        METRIC,
    ]  # the seed, the same in every run, is no axis
    assert labels_at(ax, 2) == {"adam": 0.0, "rmsprop": 0.5, "sgd": 1.0}  # sorted, evenly spaced
    lines = lines_by_run(fig)
    assert len(lines) == 4
    assert list(lines["adam"].get_xdata()) == [0, 1, 2, 3]
    assert lines["adam"].get_ydata()[2] != lines["rmsprop"].get_ydata()[2]  # told apart on the name axis
    assert lines["adam"].get_ydata()[0] == lines["rmsprop"].get_ydata()[0] == 0.0  # the same rate
    assert lines["momentum"].get_ydata()[0] == 1.0 and lines["sgd"].get_ydata()[0] == np.log10(10) / np.log10(
        30
    )
    assert lines["adam"].get_ydata()[3] == 0.0 and lines["sgd"].get_ydata()[3] == 1.0  # the objective last
    assert set(labels_at(ax, 0)) == {"0.001", "0.01", "0.03"}  # each rate at its place


def test_the_best_run_is_dark_and_the_colour_bar_says_best_and_worst() -> None:
    fig = parallel_coordinates_figure(OPTIMIZERS, METRIC)
    lines = lines_by_run(fig)
    assert np.allclose(lines["adam"].get_color(), colormaps["viridis"](0.0))  # best: the dark end
    assert np.allclose(lines["sgd"].get_color(), colormaps["viridis"](1.0))
    assert luminance(lines["adam"].get_color()) < luminance(lines["rmsprop"].get_color())
    assert luminance(lines["rmsprop"].get_color()) < luminance(lines["sgd"].get_color())
    assert bar_ends(fig) == {0.507: "best\n0.507", 1.11: "worst\n1.11"}
    assert "dark where it is best (lowest)" in fig.axes[0].get_title()


def test_where_higher_is_better_the_highest_is_best_and_dark() -> None:
    accuracy = OPTIMIZERS.drop(columns=METRIC).assign(validation_accuracy=[0.6, 0.8, 0.95, 0.9])
    fig = parallel_coordinates_figure(accuracy, "validation_accuracy")
    lines = lines_by_run(fig)
    assert luminance(lines["adam"].get_color()) < luminance(lines["rmsprop"].get_color())
    assert luminance(lines["rmsprop"].get_color()) < luminance(lines["sgd"].get_color())
    assert bar_ends(fig) == {0.95: "best\n0.95", 0.6: "worst\n0.6"}
    assert "dark where it is best (highest)" in fig.axes[0].get_title()


def test_no_label_is_cut_off_at_the_edge_with_many_long_parameters() -> None:
    rng = np.random.default_rng(0)
    search = pd.DataFrame(
        {
            "run": [f"t{i}" for i in range(12)],
            "optimizer.learning_rate": [f"{r:.6g}" for r in 10 ** rng.uniform(-4, -1, 12)],
            "model.hidden_units": [str([int(w), int(w)]) for w in rng.integers(4, 64, 12)],
            "model.dropout": [f"{d:.3f}" for d in rng.uniform(0, 0.5, 12)],
            "model.l2": [f"{d:.2e}" for d in 10 ** rng.uniform(-6, -2, 12)],
            "training.batch_size": [str(b) for b in rng.choice([16, 32, 64], 12)],
            "cv_val_mse_mean": rng.uniform(0.3, 1.5, 12),
        }
    )
    fig = parallel_coordinates_figure(search, "cv_val_mse_mean")
    assert len(fig.axes[0].get_xticklabels()) == 6
    assert outside(fig) == []
    assert outside(parallel_coordinates_figure(OPTIMIZERS, METRIC)) == []


def test_runs_without_the_objective_are_left_out_and_nothing_to_draw_is_no_file(tmp_path: Path) -> None:
    failed = OPTIMIZERS.assign(**{METRIC: [np.nan, 0.6, 0.507, 0.55]})
    assert set(lines_by_run(parallel_coordinates_figure(failed, METRIC))) == {"momentum", "adam", "rmsprop"}
    path = tmp_path / "p.png"
    assert plot_parallel_coordinates(OPTIMIZERS, METRIC, path) == path and path.read_bytes()[:4] == b"\x89PNG"
    assert plot_parallel_coordinates(OPTIMIZERS[["run", METRIC]], METRIC, tmp_path / "q.png") is None
    assert not (tmp_path / "q.png").exists()


def test_one_list_parameter_is_an_axis_in_natural_order_and_the_title_fits() -> None:
    widths = pd.DataFrame(
        {
            "run": list("abcde"),
            "model.hidden_units": ["[1024]", "[128]", "[2]", "[8192]", "[8]"],
            METRIC: [0.5] * 5,
        }
    )
    fig = parallel_coordinates_figure(widths, METRIC)
    labels = labels_at(fig.axes[0], 0)
    assert sorted(labels, key=labels.get) == ["[2]", "[8]", "[128]", "[1024]", "[8192]"]
    assert outside(fig) == []


def test_numbers_too_close_to_read_apart_get_one_label() -> None:
    widths = pd.DataFrame(
        {"run": list("abcd"), "model.width": ["3", "29", "31", "95"], METRIC: [0.4, 0.3, 0.5, 0.6]}
    )
    labels = labels_at(parallel_coordinates_figure(widths, METRIC).axes[0], 0)
    assert set(labels) == {"3", "29", "95"}  # 31 would be written over 29
