"""A comparison of classifier runs: ranked by validation log loss, accuracy shown, and the
spread of accuracy over seeds beside the spread of the loss; the comparison's pictures
(learning curves, the objective against each swept parameter), read back from the figure."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from pipeline.reports.canvas import outside
from pipeline.reports.comparison import DEFAULT_METRIC, comparison_frame, ranking_metric, seed_summary
from pipeline.reports.comparison_plots import learning_curves_figure, metric_vs_param_figure
from pipeline.reports.terminal_table import headline_columns
from pipeline.tracking.queries import RunSummary


def run(name: str, l2: str, seed: str, loss: float, accuracy: float) -> RunSummary:
    return RunSummary(
        run_id=name,
        name=name,
        status="FINISHED",
        params={"model.l2": l2, "training.seed": seed},
        metrics={"validation_log_loss": loss, "validation_accuracy": accuracy},
        tags={"run_status": "finished", "epochs_run": "5"},
        start_time=0,
    )


RUNS = [
    run("a", "0.0", "1", 0.20, 0.90),
    run("b", "0.0", "2", 0.30, 0.80),
    run("c", "0.01", "1", 0.10, 0.95),
    run("d", "0.01", "2", 0.12, 0.97),
]


def test_classifier_runs_are_ranked_by_log_loss() -> None:
    metric = ranking_metric(RUNS, DEFAULT_METRIC)
    assert metric == "validation_log_loss"
    frame = comparison_frame(RUNS, metric)
    assert frame["run"].tolist() == ["c", "d", "a", "b"]
    assert headline_columns(frame, metric) == [
        "run", "model.l2", "training.seed", "validation_log_loss", "validation_accuracy", "epochs", "status",
    ]  # fmt: skip


def test_a_regression_keeps_its_metric() -> None:
    regression = [
        RunSummary("r", "r", "FINISHED", {}, {"validation_mse_scaled": 0.5}, {}, 0),
    ]
    assert ranking_metric(regression, DEFAULT_METRIC) == DEFAULT_METRIC
    assert ranking_metric(RUNS, "test_accuracy") == "test_accuracy"  # asked for: kept


def test_seed_summary_gives_accuracy_spread_per_configuration() -> None:
    frame = comparison_frame(RUNS, "validation_log_loss")
    summary = seed_summary(frame, "validation_log_loss")
    assert summary["model.l2"].tolist() == ["0.01", "0.0"]
    best = summary.iloc[0]
    assert best["validation_accuracy_mean"] == pytest.approx(0.96)
    assert best["validation_accuracy_std"] == pytest.approx(0.0141421, rel=1e-4)  # sample std of 0.95, 0.97
    assert best["validation_log_loss_mean"] == pytest.approx(0.11)
    assert summary.columns[-1] == "count" and best["count"] == 2


def test_range_tests_are_shown_by_their_suggested_rate() -> None:
    tests = [
        RunSummary(name, name, "FINISHED", {"optimizer.name": name}, {"lr_suggested": rate}, {}, 0)
        for name, rate in (("sgd", 0.04), ("adam", 0.003))
    ]
    metric = ranking_metric(tests, DEFAULT_METRIC)
    assert metric == "lr_suggested"
    frame = comparison_frame(tests, metric)
    assert list(frame["lr_suggested"]) == [0.003, 0.04]  # sorted by it


OPTIMIZERS = pd.DataFrame(
    {
        "run": ["sgd", "momentum", "adam", "rmsprop", "failed"],
        "optimizer.learning_rate": ["0.01", "0.03", "0.001", "0.001", "0.1"],
        "optimizer.name": ["sgd", "sgd", "adam", "rmsprop", "sgd"],
        "optimizer.schedule": ["none", "inverse_time", "none", "none", "none"],
        "validation_mse_scaled": [1.11, 0.60, 0.507, 0.55, math.nan],
    }
)


def test_metric_vs_param_puts_numbers_on_a_log_axis_and_names_at_labelled_points() -> None:
    params = ["optimizer.learning_rate", "optimizer.name", "optimizer.schedule"]
    fig = metric_vs_param_figure(OPTIMIZERS, params, "validation_mse_scaled")
    rate, name, schedule = fig.axes[:3]
    assert rate.get_xscale() == "log" and rate.get_xlabel() == "optimizer.learning_rate"
    points = {c.get_label(): c.get_offsets().tolist() for c in rate.collections}
    assert points == {
        "adam": [[0.001, 0.507]],
        "rmsprop": [[0.001, 0.55]],
        "sgd": [[0.01, 1.11], [0.03, 0.6]],
    }
    assert [t.get_text() for t in rate.get_legend().get_texts()] == ["adam", "rmsprop", "sgd"]
    colours = {c.get_label(): tuple(c.get_facecolor()[0]) for c in rate.collections}
    assert colours["adam"] != colours["rmsprop"]  # the two runs at 0.001 told apart
    assert [t.get_text() for t in name.get_xticklabels()] == ["adam", "rmsprop", "sgd"]
    assert sorted(name.collections[0].get_offsets().tolist()) == [[0, 0.507], [1, 0.55], [2, 0.6], [2, 1.11]]
    assert [t.get_text() for t in rate.texts] == [
        "1 run(s) without validation_mse_scaled (diverged or failed)"
    ]
    by_name = {c.get_label(): c.get_offsets().tolist() for c in schedule.collections}  # the most values
    assert by_name["sgd"] == [[1, 1.11], [0, 0.6]] and by_name["adam"] == [[1, 0.507]]  # none, inverse_time
    assert outside(fig) == []


def test_metric_vs_param_keeps_a_linear_axis_for_a_narrow_range() -> None:
    widths = pd.DataFrame({"model.width": ["8", "16", "32"], "validation_mse_scaled": [0.5, 0.4, 0.45]})
    ax = metric_vs_param_figure(widths, ["model.width"], "validation_mse_scaled").axes[0]
    assert ax.get_xscale() == "linear"
    assert ax.collections[0].get_offsets().tolist() == [[8, 0.5], [16, 0.4], [32, 0.45]]


def test_learning_curves_draw_each_runs_values_and_name_the_flat_ones() -> None:
    curves = {"adam": [(1, 0.9), (2, 0.5)], "sgd": [(1, 1.2), (2, 1.1), (3, 1.0)], "zero": [(1, 0.0)]}
    fig = learning_curves_figure(curves, "val_loss")
    ax = fig.axes[0]
    lines = {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.get_lines()}
    assert lines["adam"] == ([1, 2], [0.9, 0.5]) and lines["sgd"] == ([1, 2, 3], [1.2, 1.1, 1.0])
    assert ax.get_yscale() == "log" and ax.get_title() == "val_loss per epoch, one line per run"
    assert [t.get_text() for t in ax.texts] == ["always 0, not drawn on this log scale: zero"]
    assert all(float(tick).is_integer() for tick in ax.get_xticks())  # whole epochs
    many = learning_curves_figure({f"run{i}": [(1, 1.0), (2, 0.5)] for i in range(12)}, "val_loss").axes[0]
    looks = [(line.get_color(), line.get_linestyle()) for line in many.get_lines()]
    assert len(set(looks)) == 12 and looks[10][1] == "--"  # the 11th run: the first colour, dashed
    assert outside(fig) == []
