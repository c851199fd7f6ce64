"""Regression metrics and their MLflow names."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pipeline.model.metrics import flat_metrics, part_metrics, plot_frame, regression_metrics


@pytest.mark.parametrize("y", [[1.0, 2.0, 3.0], [-5.0, 0.0, 12.5, 3.0], list(range(100))])
def test_perfect_prediction(y: list[float]) -> None:
    assert regression_metrics(np.array(y), np.array(y)) == {
        "mse": 0.0,
        "rmse": 0.0,
        "mae": 0.0,
        "r2": 1.0,
    }


def test_hand_computed_case() -> None:
    # errors [0, 0, 0, 2]: MSE 4/4 = 1, MAE 2/4; total sum of squares around 2.5 is 5
    metrics = regression_metrics(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0, 6.0]))
    assert metrics == pytest.approx({"mse": 1.0, "rmse": 1.0, "mae": 0.5, "r2": 0.2})


def test_second_hand_computed_case() -> None:
    # errors [1, -1, 2]: MSE 6/3 = 2, MAE 4/3; around mean 2 the total is 2 -> R^2 = 1 - 6/2
    metrics = regression_metrics([1.0, 2.0, 3.0], [2.0, 1.0, 5.0])
    assert metrics == pytest.approx({"mse": 2.0, "rmse": math.sqrt(2.0), "mae": 4 / 3, "r2": -2.0})


def test_predicting_the_mean_gives_r2_zero() -> None:
    y = np.array([1.0, 4.0, 7.0])
    assert regression_metrics(y, np.full(3, y.mean()))["r2"] == pytest.approx(0.0)


def test_column_vectors_are_flattened() -> None:
    y = np.array([[1.0], [2.0], [3.0], [4.0]])
    flat = regression_metrics(y.reshape(-1), np.array([1.0, 2.0, 3.0, 6.0]))
    assert regression_metrics(y, np.array([[1.0], [2.0], [3.0], [6.0]])) == flat


def test_constant_target_gives_finite_r2() -> None:
    metrics = regression_metrics(np.array([2.0, 2.0]), np.array([2.0, 2.0]))
    assert metrics["r2"] == 0.0
    assert all(math.isfinite(value) for value in metrics.values())


def test_flat_metrics_names() -> None:
    nested = {
        "test": {"scaled": {"mse": 0.5, "r2": 0.9}, "original": {"rmse": 12.0}},
        "train": {"scaled": {"mae": 0.1}},
    }
    assert flat_metrics(nested) == {
        "test_mse_scaled": 0.5,
        "test_r2_scaled": 0.9,
        "test_rmse_original": 12.0,
        "train_mae_scaled": 0.1,
    }


def predictions(actual: list[float], predicted: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"actual": actual, "predicted": predicted})


def test_metrics_in_both_units() -> None:
    stats = {"mean": [0.0], "std": [10.0]}
    metrics = {
        part: part_metrics(np.array([10.0, 20.0, 30.0, 40.0]), np.array([10.0, 20.0, 30.0, 60.0]), stats)
        for part in ("train", "validation", "test")
    }
    flat = flat_metrics(metrics)
    assert len(flat) == 3 * 2 * 4
    assert flat["test_mse_original"] == pytest.approx(100.0)
    assert flat["test_mse_scaled"] == pytest.approx(1.0)
    assert flat["validation_mae_original"] == pytest.approx(5.0)
    assert flat["train_r2_scaled"] == pytest.approx(0.2)
    assert flat["train_r2_original"] == pytest.approx(0.2)  # R^2 does not depend on the units


def test_plot_frame_has_validation_and_test_only() -> None:
    parts = {part: predictions([1.0, 2.0], [1.5, 2.5]) for part in ("train", "validation", "test")}
    frame = plot_frame(parts)
    assert list(frame.columns) == ["actual", "predicted", "split"]
    assert frame["split"].tolist() == ["validation", "validation", "test", "test"]
