"""Classification metrics per partition: accuracy, log loss, macro F1, ROC AUC (binary),
the confusion matrix and, for binary tasks, the ROC curve (scikit-learn's metrics)."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pandas as pd

from pipeline.core.config import TrainingConfig
from pipeline.data.outputs import PROBABILITY_PREFIX, label_frame, probabilities
from pipeline.data.prepared import Prepared, design_matrix, target_values
from pipeline.model.engine import predict


def classification_metrics(actual: np.ndarray, proba: np.ndarray, classes: list[str]) -> dict[str, float]:
    """Accuracy, log loss (natural log, the training loss without penalties), macro-averaged F1
    and, for two classes, ROC AUC of the second class; `actual` holds class indices."""
    from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

    labels = list(range(len(classes)))
    predicted = proba.argmax(axis=1)
    metrics = {
        "accuracy": float(accuracy_score(actual, predicted)),
        "log_loss": float(log_loss(actual, proba, labels=labels)),
        "f1_macro": float(f1_score(actual, predicted, labels=labels, average="macro", zero_division=0)),
    }
    if len(classes) == 2:
        both = len(np.unique(actual)) == 2  # AUC needs both classes among the rows
        metrics["roc_auc"] = float(roc_auc_score(actual, proba[:, 1])) if both else float("nan")
    return metrics


def class_predictions(
    model: keras.Model, prepared: Prepared, training: TrainingConfig, part: str
) -> tuple[np.ndarray, np.ndarray]:
    """A partition's class indices and the predicted probabilities (one column per class)."""
    x, _ = design_matrix(prepared, part, training)
    proba = probabilities(prepared.task, predict(model, x))
    return np.asarray(target_values(prepared, part), dtype="int64"), proba


def prediction_frame(actual: np.ndarray, proba: np.ndarray, classes: list[str]) -> pd.DataFrame:
    """Actual and predicted class names, then each class's probability."""
    predicted = label_frame(proba, classes).rename(columns={"label": "predicted"})
    actual = pd.Series(np.asarray(classes, dtype=object)[actual], name="actual")
    return pd.concat([actual, predicted], axis=1)


def confusion(frame: pd.DataFrame, classes: list[str]) -> np.ndarray:
    """Counts: rows the actual class, columns the predicted one, in `classes` order."""
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(frame["actual"], frame["predicted"], labels=classes)


def roc_curve(frame: pd.DataFrame, positive: str) -> tuple[np.ndarray, np.ndarray, float]:
    """False and true positive rates of class `positive` over the thresholds, and the AUC."""
    from sklearn.metrics import auc, roc_curve

    fpr, tpr, _ = roc_curve(frame["actual"] == positive, frame[f"{PROBABILITY_PREFIX}{positive}"])
    return fpr, tpr, float(auc(fpr, tpr))


def decision_grid(
    model: keras.Model, prepared: Prepared, training: TrainingConfig, points: int = 200
) -> dict[str, Any]:
    """For two-input classification: a grid over the inputs' range (in their own units), the
    predicted class on it, and the train and validation points with their classes."""
    from pipeline.data.features import standardize

    features = prepared.schema["encoded_features"]
    frames = {p: prepared.parts[p] for p in ("train", "validation")}
    values = np.concatenate([frame[features].to_numpy(dtype="float64") for frame in frames.values()])
    low, high = values.min(axis=0), values.max(axis=0)
    pad = 0.05 * (high - low)
    xx, yy = np.meshgrid(
        np.linspace(low[0] - pad[0], high[0] + pad[0], points),
        np.linspace(low[1] - pad[1], high[1] + pad[1], points),
    )
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    if training.scale_features:
        grid = standardize(grid, prepared.scaler["features"])
    predicted = probabilities(prepared.task, predict(model, grid.astype("float32"))).argmax(axis=1)
    target = prepared.schema["target"]
    return {
        "xx": xx,
        "yy": yy,
        "predicted": predicted.reshape(xx.shape),
        "points": {
            p: (frame[features].to_numpy(dtype="float64"), frame[target].to_numpy(dtype="int64"))
            for p, frame in frames.items()
        },
        "features": list(features),
    }
