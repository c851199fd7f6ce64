"""A classifier's outputs as users read them: class probabilities from the network's logits,
and the predicted class. NumPy and pandas only: the served model runs this code too."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

LABEL = "label"
PROBABILITY_PREFIX = "probability_"  # then the class name: probability_benign


def probabilities(task: str, logits: np.ndarray) -> np.ndarray:
    """Class probabilities, one column per class (binary: [P(class 0), P(class 1)]), float64."""
    logits = np.asarray(logits, dtype="float64")
    if task == "binary":
        positive = 1.0 / (1.0 + np.exp(-logits.reshape(-1)))
        return np.column_stack([1.0 - positive, positive])
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def label_frame(proba: np.ndarray, classes: Sequence[str]) -> pd.DataFrame:
    """`label` (the most probable class's name), then `probability_<class>` for each class."""
    frame = pd.DataFrame({LABEL: np.asarray(classes, dtype=object)[proba.argmax(axis=1)]})
    for index, name in enumerate(classes):
        frame[f"{PROBABILITY_PREFIX}{name}"] = proba[:, index]
    return frame
