"""The prepared partitions as the training and evaluation stages read them.

Nothing here keeps a partition in memory. `Prepared.parts` reads a partition's parquet
file when it is asked for one, and `design_matrix` builds the float32 inputs column by
column straight from the file, so the only float64 data alive at a time is one column
(with `dataset.cluster_similarity`, the similarity columns, computed together).
The float32 matrices are 64-byte aligned, which lets the training loop hand them to
TensorFlow without a copy (pipeline.model.engine).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from pipeline.core.config import TrainingConfig
from pipeline.core.errors import PipelineError
from pipeline.core.files import MANIFEST_FILE, PARTS, SCALER_FILE, SCHEMA_FILE, part_file
from pipeline.core.io import read_json
from pipeline.data.features import cluster_similarity, similarity_names

ALIGNMENT = 64  # bytes: what TensorFlow's CPU kernels need to use a buffer in place (Eigen)
Column = Callable[[str], np.ndarray]  # a column's values by name, as float64


def read_part(path: Path) -> pd.DataFrame:
    """One partition as `pd.read_parquet` reads it, a column at a time: reading the whole
    table at once briefly holds it about three times over (Arrow buffers, decoded pages)."""
    schema = pq.read_schema(path)
    if any(isinstance(name, str) for name in (schema.pandas_metadata or {}).get("index_columns", [])):
        return pd.read_parquet(path)  # a stored index: pandas puts it together itself
    names = schema.names
    columns = {name: pd.read_parquet(path, columns=[name])[name] for name in names}
    return pd.DataFrame(columns, copy=False)


class PartFiles(Mapping[str, pd.DataFrame]):
    """The partitions of a prepared folder, read from disk on each access, never kept."""

    def __init__(self, directory: Path, parts: Sequence[str] = PARTS) -> None:
        self.directory, self.parts = directory, tuple(parts)

    def path(self, part: str) -> Path:
        if part not in self.parts:
            raise KeyError(part)
        return self.directory / part_file(part)

    def __getitem__(self, part: str) -> pd.DataFrame:
        return read_part(self.path(part))

    def __iter__(self) -> Iterator[str]:
        return iter(self.parts)

    def __len__(self) -> int:
        return len(self.parts)


@dataclass(frozen=True)
class Prepared:
    parts: Mapping[str, pd.DataFrame]  # PartFiles from load_prepared; a dict of frames works too
    schema: dict[str, Any]
    scaler: dict[str, Any]
    manifest: dict[str, Any]
    directory: Path

    @property
    def task(self) -> str:
        """`regression`, `binary` or `multiclass` (the schema's, decided by the normalize stage)."""
        return str(self.schema.get("task", "regression"))

    @property
    def classes(self) -> list[str]:
        """A classification target's classes (class index i is classes[i]); [] for regression."""
        return list(self.schema.get("classes") or [])

    @property
    def target_stats(self) -> dict[str, list[float]]:
        return {"mean": [self.scaler["target"]["mean"]], "std": [self.scaler["target"]["std"]]}


def load_prepared(directory: str | Path) -> Prepared:
    """The prepared folder's schema, scaler and manifest; its partitions read on demand.
    A folder without a manifest is a PipelineError naming it."""
    directory = Path(directory)
    if not (directory / MANIFEST_FILE).is_file():
        raise PipelineError(f"{directory}: no prepared data; run `dvc repro split` first")
    return Prepared(
        parts=PartFiles(directory),
        schema=read_json(directory / SCHEMA_FILE),
        scaler=read_json(directory / SCALER_FILE),
        manifest=read_json(directory / MANIFEST_FILE),
        directory=directory,
    )


def aligned_empty(shape: tuple[int, ...], dtype: str = "float32", alignment: int = ALIGNMENT) -> np.ndarray:
    """An uninitialized C-contiguous array whose data starts on an `alignment`-byte boundary."""
    item = np.dtype(dtype).itemsize
    size = int(np.prod(shape, dtype=np.int64)) * item
    raw = np.empty(size + alignment, dtype=np.uint8)
    start = -raw.ctypes.data % alignment
    return raw[start : start + size].view(dtype).reshape(shape)


def scaled_column(values: np.ndarray, mean: float, std: float, scale: bool) -> np.ndarray:
    """(values - mean) / std in float64 when `scale`, else the values as they are."""
    return (values - mean) / std if scale else values


@dataclass(frozen=True)
class Columns:
    """Where a partition's columns come from: its row count and each column as float64."""

    rows: int
    column: Column


def frame_columns(frame: pd.DataFrame) -> Columns:
    return Columns(len(frame), lambda name: frame[name].to_numpy(dtype="float64"))


def parquet_columns(path: Path) -> Columns:
    """A parquet file's columns, each read on its own when asked for (the file is columnar)."""
    source = pq.ParquetFile(path)

    def column(name: str) -> np.ndarray:
        values = source.read(columns=[name], use_pandas_metadata=False).column(0)
        return values.to_pandas().to_numpy(dtype="float64")

    return Columns(source.metadata.num_rows, column)


def with_similarity_columns(source: Columns, clusters: Mapping[str, Any] | None) -> Columns:
    """`source`, and (with `clusters`, the scaler's k-means centers) its similarity inputs,
    computed together the first time one of them is asked for."""
    if not clusters:
        return source
    names = similarity_names(len(clusters["centers"]))
    computed: dict[str, np.ndarray] = {}

    def column(name: str) -> np.ndarray:
        if name not in names:
            return source.column(name)
        if not computed:
            points = np.column_stack([source.column(c) for c in clusters["columns"]])
            computed.update(zip(names, cluster_similarity(points, clusters).T, strict=True))
        return computed[name]

    return Columns(source.rows, column)


def scaled_matrix(
    source: Columns, names: Sequence[str], stats: Mapping[str, Sequence[float]], scale: bool
) -> np.ndarray:
    """Columns `names` as an aligned float32 matrix, one float64 column in memory at a time.

    The same numbers as standardizing the whole float64 matrix and casting it to float32:
    each value goes through the same float64 arithmetic and the same rounding.
    """
    out = aligned_empty((source.rows, len(names)))
    for j, name in enumerate(names):
        out[:, j] = scaled_column(source.column(name), stats["mean"][j], stats["std"][j], scale)
    return out


def scaled_vector(values: np.ndarray, mean: float, std: float, scale: bool) -> np.ndarray:
    out = aligned_empty((len(values),))
    out[:] = scaled_column(values, mean, std, scale)
    return out


def matrices_from(
    source: Columns, schema: dict[str, Any], scaler: dict[str, Any], training: TrainingConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs and target, scaled with `scaler` as `training` says, as aligned float32.
    A classification target stays class indices (0.0, 1.0, ...): `scale_target` is for regression."""
    inputs = with_similarity_columns(source, scaler.get("clusters"))
    x = scaled_matrix(inputs, scaler["features"]["names"], scaler["features"], training.scale_features)
    target = scaler["target"]
    scale_target = training.scale_target and schema.get("task", "regression") == "regression"
    y = scaled_vector(source.column(schema["target"]), target["mean"], target["std"], scale_target)
    return x, y


def matrices(
    frame: pd.DataFrame,
    schema: dict[str, Any],
    scaler: dict[str, Any],
    training: TrainingConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs and target of some rows, scaled with `scaler` as `training` says, as float32."""
    return matrices_from(frame_columns(frame), schema, scaler, training)


def part_columns(prepared: Prepared, part: str) -> Columns:
    """A partition's columns: from its file when the partitions are on disk."""
    if isinstance(prepared.parts, PartFiles):
        return parquet_columns(prepared.parts.path(part))
    return frame_columns(prepared.parts[part])


def design_matrix(prepared: Prepared, part: str, training: TrainingConfig) -> tuple[np.ndarray, np.ndarray]:
    """One partition's inputs and target, scaled with the training-set statistics."""
    return matrices_from(part_columns(prepared, part), prepared.schema, prepared.scaler, training)


def target_values(prepared: Prepared, part: str) -> np.ndarray:
    """A partition's target in its own units (float64), without reading the other columns."""
    return part_columns(prepared, part).column(prepared.schema["target"])
