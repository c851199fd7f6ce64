"""Metrics per partition: for regression on the scaled target and in the target's own units;
for classification those of pipeline.model.class_metrics."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pandas as pd

from pipeline.core.config import TrainingConfig
from pipeline.core.files import PARTS
from pipeline.data.features import standardize, unstandardize
from pipeline.data.prepared import Prepared, design_matrix, target_values
from pipeline.model.class_metrics import class_predictions, classification_metrics, prediction_frame
from pipeline.model.engine import predict
from pipeline.model.losses import TASKS, metric_names

UNITS = ("scaled", "original")
SHOWN_PARTS = ("validation", "test")  # the partitions of the `dvc plots` data and the pictures
# regression {part: {units: {metric: value}}}; classification {part: {metric: value}}
Metrics = dict[str, dict[str, Any]]


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """MSE, RMSE, MAE and R^2 (R^2 is 0 for a constant target predicted exactly, else -inf-safe)."""
    y_true = np.asarray(y_true, dtype="float64").reshape(-1)
    y_pred = np.asarray(y_pred, dtype="float64").reshape(-1)
    errors = y_pred - y_true
    mse = float(np.mean(errors**2))
    total = float(np.sum((y_true - y_true.mean()) ** 2))
    r2 = 1.0 - float(np.sum(errors**2)) / total if total > 0 else 0.0
    return {"mse": mse, "rmse": float(np.sqrt(mse)), "mae": float(np.mean(np.abs(errors))), "r2": r2}


def part_predictions(
    model: keras.Model, prepared: Prepared, training: TrainingConfig, part: str
) -> tuple[np.ndarray, np.ndarray]:
    """A partition's actual and predicted target, in the target's own units (float64)."""
    x, _ = design_matrix(prepared, part, training)
    raw_pred = predict(model, x)
    del x
    predicted = unstandardize(raw_pred, prepared.target_stats) if training.scale_target else raw_pred
    actual = np.asarray(target_values(prepared, part), dtype="float64")  # not the whole partition
    return actual, np.asarray(predicted, dtype="float64")


def part_metrics(
    actual: np.ndarray, predicted: np.ndarray, stats: dict[str, list[float]]
) -> dict[str, dict[str, float]]:
    """{units: {metric: value}}: on the scaled target (standardized with `stats`) and in original units."""
    return {
        "scaled": regression_metrics(standardize(actual, stats), standardize(predicted, stats)),
        "original": regression_metrics(actual, predicted),
    }


def evaluate_parts(
    model: keras.Model, prepared: Prepared, training: TrainingConfig
) -> tuple[Metrics, dict[str, pd.DataFrame]]:
    """Every partition's metrics, and the validation and test predictions (actual, predicted;
    for classification class names and each class's probability). Besides those two, one
    partition's predictions are in memory at a time."""
    metrics: Metrics = {}
    shown: dict[str, pd.DataFrame] = {}
    if prepared.task != "regression":
        for part in PARTS:
            actual, proba = class_predictions(model, prepared, training, part)
            metrics[part] = classification_metrics(actual, proba, prepared.classes)
            if part in SHOWN_PARTS:
                shown[part] = prediction_frame(actual, proba, prepared.classes)
        return metrics, shown
    for part in PARTS:
        actual, predicted = part_predictions(model, prepared, training, part)
        metrics[part] = part_metrics(actual, predicted, prepared.target_stats)
        if part in SHOWN_PARTS:
            shown[part] = pd.DataFrame({"actual": actual, "predicted": predicted})
    return metrics, shown


FINAL_SUFFIX = "_final"  # a final metric named like a per-epoch series gets this


def epoch_series_names() -> frozenset[str]:
    """The names of the per-epoch series a run records (steps 0..epochs) beside
    `learning_rate` and the `diag/` ones: `train_loss`, `val_loss`, `train_<m>`, `val_<m>` for
    every task's `metric_names` (pipeline.model.losses)."""
    names = {"train_loss", "val_loss"}
    for task in TASKS:
        names |= {f"{side}_{m}" for m in metric_names(task) for side in ("train", "val")}
    return frozenset(names)


def flat_metrics(metrics: Metrics) -> dict[str, float]:
    """The final model's metrics by their MLflow names: `test_mse_scaled`,
    `test_mae_original`, ...; `test_accuracy`, `validation_log_loss`, ... A name that a
    per-epoch series has (`epoch_series_names`) ends in FINAL_SUFFIX instead: the training
    rows' accuracy is `train_accuracy_final`, while `train_accuracy` is the series of each
    epoch's running accuracy. Logged at step 0 under the series' own name, the final value
    would be hidden behind the last epoch's (MLflow's latest value is the highest step's)."""
    series = epoch_series_names()
    flat: dict[str, float] = {}
    for part, values in metrics.items():
        for key, value in values.items():
            if isinstance(value, dict):
                flat |= {f"{part}_{name}_{key}": v for name, v in value.items()}
            else:
                flat[f"{part}_{key}"] = value
    return {name + FINAL_SUFFIX if name in series else name: v for name, v in flat.items()}


def report_metrics(report: dict[str, Any]) -> Metrics:
    """The per-partition part of a metrics report (`status` and the rest left out)."""
    return {part: report[part] for part in PARTS if part in report}


def plot_frame(predictions: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Predicted against actual (original units, or class names) on validation and test, for
    `dvc plots`."""
    frames = [predictions[p][["actual", "predicted"]].assign(split=p) for p in SHOWN_PARTS]
    return pd.concat(frames, ignore_index=True)
