"""Regression metrics and their MLflow names: the final model's never share a name with a
per-epoch series."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from pipeline.core.config import ModelConfig, OptimizerConfig, PathsConfig, TrackingConfig, TrainingConfig
from pipeline.data.outputs import probabilities
from pipeline.model.class_metrics import classification_metrics
from pipeline.model.engine import predict
from pipeline.model.metrics import (
    epoch_series_names,
    flat_metrics,
    part_metrics,
    plot_frame,
    regression_metrics,
)
from pipeline.model.training import fit
from pipeline.tracking.recorder import tracked_run


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


def test_no_final_name_is_a_per_epoch_series_name() -> None:
    parts = ("train", "validation", "test")
    scores = {"accuracy": 0.75, "log_loss": 0.5, "f1_macro": 0.7, "roc_auc": 0.8}
    classifier = flat_metrics({part: scores for part in parts})
    values = np.array([1.0, 2.0, 3.0])
    regression = flat_metrics(
        {part: part_metrics(values, values + 1, {"mean": [0.0], "std": [1.0]}) for part in parts}
    )
    assert not set(classifier) & epoch_series_names()
    assert not set(regression) & epoch_series_names()
    # the one name the final model shared with a series: the training rows' accuracy
    assert classifier["train_accuracy_final"] == 0.75 and "train_accuracy" not in classifier
    assert {"validation_accuracy", "test_accuracy", "train_log_loss"} <= set(classifier)


def noisy_points(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two inputs, a class that the first one decides up to heavy label noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 2)).astype("float32")
    return x, (x[:, 0] + rng.normal(scale=0.8, size=rows) > 0).astype("float32")


def test_a_recorded_classifier_reads_back_its_final_train_accuracy(store: str, tmp_path) -> None:
    """A run records each epoch's series (steps 0..epochs) and then the final model's
    metrics (step 0), as training and evaluation do; read back, `train_accuracy_final` is
    the final model's accuracy on its training rows, not the last epoch's running one."""
    train, validation = noisy_points(200, 0), noisy_points(200, 1)
    training = TrainingConfig(epochs=3, batch_size=20, progress=False)  # type: ignore[call-arg]
    adam = OptimizerConfig(name="adam", learning_rate=0.05)  # type: ignore[call-arg]
    result = fit(ModelConfig(hidden_units=[8]), adam, training, train, validation, task="binary", classes=2)
    final = {
        part: classification_metrics(
            y.astype("int64"), probabilities("binary", predict(result.model, x)), ["a", "b"]
        )
        for part, (x, y) in {"train": train, "validation": validation}.items()
    }
    series = {key for row in result.history for key in row} - {"epoch"}
    assert "train_accuracy" in series and not series & set(flat_metrics(final))
    running = result.history[-1]["train_accuracy"]
    assert running != pytest.approx(final["train"]["accuracy"])  # the two differ here

    paths = PathsConfig(**{name: str(tmp_path / name) for name in PathsConfig.model_fields})
    with tracked_run(TrackingConfig(experiment="unit", run_name="run"), paths) as recorder:
        assert recorder is not None
        for row in result.history:
            recorder.log_metrics({k: v for k, v in row.items() if k != "epoch"}, step=int(row["epoch"]))
        recorder.log_metrics(flat_metrics(final))
        run_id = recorder.run_id
    recorded = MlflowClient(store).get_run(run_id).data.metrics
    assert recorded["train_accuracy_final"] == pytest.approx(final["train"]["accuracy"])
    assert recorded["validation_accuracy"] == pytest.approx(final["validation"]["accuracy"])
    assert recorded["train_accuracy"] == pytest.approx(running)
