"""Feature encoding and standardization, shared by training and the served model.

Only NumPy and pandas here: the logged MLflow model runs this code to turn raw rows
(the columns as they appear in the source file) into the network's inputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd


def category_strings(values: pd.Series) -> pd.Series:
    """Categories as strings; integral numbers print without a decimal point (1.0 -> '1')."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numeric = pd.to_numeric(values)
        if bool(np.all(np.isnan(numeric) | (numeric == np.round(numeric)))):
            return numeric.astype("Int64").astype(str)
    return values.astype(str)


def encoded_names(numeric: Sequence[str], categorical: Mapping[str, Sequence[str]]) -> list[str]:
    """Model input columns: numeric columns, then one column per category level."""
    names = list(numeric)
    for column, levels in categorical.items():
        names.extend(f"{column}_{level}" for level in levels)
    return names


def encode(frame: pd.DataFrame, schema: Mapping[str, Any]) -> pd.DataFrame:
    """Raw feature columns -> float model inputs (numeric as is, or log(1 + x) for those in
    `schema["log_numeric"]`; categories one-hot).

    A category level not in `schema["categorical"]`, or a negative value of a logged column,
    raises ValueError naming it.
    """
    numeric = list(schema["numeric"])
    categorical: Mapping[str, Sequence[str]] = schema["categorical"]
    parts = {name: pd.to_numeric(frame[name]).astype("float64") for name in numeric}
    for name in schema.get("log_numeric", []):
        negative = parts[name] < 0
        if negative.any():
            raise ValueError(
                f"column {name!r}: {parts[name][negative].iloc[0]} is negative; log(1 + x) needs x >= 0"
            )
        parts[name] = np.log1p(parts[name])
    for column, levels in categorical.items():
        values = category_strings(frame[column])
        unseen = sorted(set(values.unique()) - set(levels))
        if unseen:
            raise ValueError(f"column {column!r}: unknown categories {unseen}; known: {list(levels)}")
        for level in levels:
            parts[f"{column}_{level}"] = (values == level).astype("float64")
    return pd.DataFrame(parts, index=frame.index)[encoded_names(numeric, categorical)]


def similarity_names(clusters: int) -> list[str]:
    """The names of the inputs `dataset.cluster_similarity` adds, one per center."""
    return [f"cluster_{i}_similarity" for i in range(clusters)]


def cluster_similarity(points: np.ndarray, clusters: Mapping[str, Any]) -> np.ndarray:
    """exp(-gamma * squared Euclidean distance) from each row of `points` (its columns
    `clusters["columns"]`) to each of `clusters["centers"]`: a rows x centers float64 array."""
    points = np.asarray(points, dtype="float64")
    centers = np.asarray(clusters["centers"], dtype="float64")
    squared = np.zeros((len(points), len(centers)))
    for j in range(centers.shape[1]):
        squared += (points[:, j, None] - centers[None, :, j]) ** 2
    return np.exp(-float(clusters["gamma"]) * squared)


def with_similarities(encoded: pd.DataFrame, clusters: Mapping[str, Any] | None) -> pd.DataFrame:
    """The encoded inputs, then (when `clusters` is given) one similarity column per center."""
    if not clusters:
        return encoded
    values = cluster_similarity(encoded[list(clusters["columns"])].to_numpy(), clusters)
    names = similarity_names(len(clusters["centers"]))
    return pd.concat([encoded, pd.DataFrame(values, index=encoded.index, columns=names)], axis=1)


def fit_standardizer(values: np.ndarray) -> dict[str, list[float]]:
    """Column means and standard deviations; a constant column gets scale 1 (no division by 0)."""
    values = np.asarray(values, dtype="float64")
    mean = values.mean(axis=0)
    std = values.std(axis=0)
    std = np.where(np.ptp(values, axis=0) > 0.0, std, 1.0)  # float std of a constant is ~1e-17
    return {"mean": np.atleast_1d(mean).tolist(), "std": np.atleast_1d(std).tolist()}


def standardize(values: np.ndarray, stats: Mapping[str, Sequence[float]]) -> np.ndarray:
    return (np.asarray(values, dtype="float64") - np.asarray(stats["mean"])) / np.asarray(stats["std"])


def unstandardize(values: np.ndarray, stats: Mapping[str, Sequence[float]]) -> np.ndarray:
    return np.asarray(values, dtype="float64") * np.asarray(stats["std"]) + np.asarray(stats["mean"])
