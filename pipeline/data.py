"""The prepared partitions as the training and evaluation stages read them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.config import TrainingConfig
from pipeline.errors import PipelineError
from pipeline.features import standardize
from pipeline.io import read_json
from pipeline.normalize import SCHEMA_FILE
from pipeline.split import MANIFEST_FILE, PARTS, SCALER_FILE, part_file


@dataclass(frozen=True)
class Prepared:
    parts: dict[str, pd.DataFrame]
    schema: dict[str, Any]
    scaler: dict[str, Any]
    manifest: dict[str, Any]
    directory: Path

    @property
    def target_stats(self) -> dict[str, list[float]]:
        return {"mean": [self.scaler["target"]["mean"]], "std": [self.scaler["target"]["std"]]}


def load_prepared(directory: str | Path) -> Prepared:
    directory = Path(directory)
    if not (directory / MANIFEST_FILE).is_file():
        raise PipelineError(f"{directory}: no prepared data; run `dvc repro split` first")
    return Prepared(
        parts={part: pd.read_parquet(directory / part_file(part)) for part in PARTS},
        schema=read_json(directory / SCHEMA_FILE),
        scaler=read_json(directory / SCALER_FILE),
        manifest=read_json(directory / MANIFEST_FILE),
        directory=directory,
    )


def matrices(
    frame: pd.DataFrame,
    schema: dict[str, Any],
    scaler: dict[str, Any],
    training: TrainingConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs and target of some rows, scaled with `scaler` as `training` says, as float32."""
    x = frame[schema["encoded_features"]].to_numpy(dtype="float64")
    y = frame[schema["target"]].to_numpy(dtype="float64")
    if training.scale_features:
        x = standardize(x, scaler["features"])
    if training.scale_target:
        y = standardize(y, {"mean": [scaler["target"]["mean"]], "std": [scaler["target"]["std"]]})
    return x.astype("float32"), y.astype("float32")


def design_matrix(prepared: Prepared, part: str, training: TrainingConfig) -> tuple[np.ndarray, np.ndarray]:
    """One partition's inputs and target, scaled with the training-set statistics."""
    return matrices(prepared.parts[part], prepared.schema, prepared.scaler, training)
