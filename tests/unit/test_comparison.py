"""A comparison of classifier runs: ranked by validation log loss, accuracy shown, and the
spread of accuracy over seeds beside the spread of the loss."""

from __future__ import annotations

import pytest

from pipeline.reports.comparison import DEFAULT_METRIC, comparison_frame, ranking_metric, seed_summary
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
