"""Normalize: drop blank rows, check the data (pipeline.data.schemas), one-hot encode.

Only row-wise, stateless transforms: nothing here is fitted to the data's values. Messages
name the file as the user gave it (`dataset.path`, from the raw folder's provenance), never
the raw copy, and give lines of that file (the header is line 1).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.core.config import DatasetConfig
from pipeline.core.errors import PipelineError
from pipeline.core.files import NORMALIZED_FILE, PROVENANCE_FILE, RAW_FILE, SCHEMA_FILE
from pipeline.core.io import atomic_dir, read_json, write_json
from pipeline.data.features import category_strings, encode, encoded_names
from pipeline.data.fingerprint import stamp_of
from pipeline.data.labels import auto_note, class_labels
from pipeline.data.tabular import read_table


def feature_columns(columns: list[str], dataset: DatasetConfig) -> list[str]:
    """The raw feature columns, in order: `dataset.features`, or every column but the target."""
    if dataset.features is not None:
        return list(dataset.features)
    return [c for c in columns if c != dataset.target]


def check_roles(dataset: DatasetConfig, features: list[str], columns: list[str]) -> None:
    """Categorical columns must be features and the target must not be one (a categorical
    column absent from the file is the schema's to report, as a missing column)."""
    stray = [c for c in dataset.categorical if c not in features and c in columns]
    if stray:
        raise PipelineError(f"dataset.categorical: {stray} are not among the features {features}")
    if dataset.target in features:
        raise PipelineError(f"dataset.features: the target {dataset.target!r} cannot be a feature")


def check_blank_columns(
    frame: pd.DataFrame, dataset: DatasetConfig, features: list[str], source: str
) -> None:
    """A column blank in every row is refused by name, before blank rows are dropped (which
    would otherwise leave no row): the target, a feature (leave it out), or, when blank rows
    are dropped, an unused column (with dataset.drop_blank_rows=false, blanks in unused
    columns do not count)."""
    from pipeline.data.schemas import list_override

    empty = [str(c) for c in frame.columns if frame[c].isna().all()]
    lines = f"lines 2-{len(frame) + 1}"
    if dataset.target in empty:
        raise PipelineError(
            f"{source}: dataset.target {dataset.target!r} is blank in every row ({lines}): "
            "nothing to learn from; check dataset.target"
        )
    unused = [c for c in empty if c not in features]
    empty = [c for c in features if c in empty]
    if empty:
        kept = [c for c in features if c not in empty]
        leave = f"; leave them out with {list_override('dataset.features', kept)}" if kept else ""
        raise PipelineError(f"{source}: column(s) {empty} are blank in every row ({lines}){leave}")
    if unused and dataset.drop_blank_rows:
        raise PipelineError(
            f"{source}: unused column(s) {unused} are blank in every row ({lines}), so dropping rows "
            "with a blank cell would leave none; set dataset.drop_blank_rows=false (blanks in unused "
            "columns then do not count; blanks in used ones are refused)"
        )


def drop_blank_rows(frame: pd.DataFrame, drop: bool, source: str) -> tuple[pd.DataFrame, str | None]:
    """Drop every row with a blank cell in any column, as the course does, and say how many
    (None when none); otherwise the schema refuses blanks in the used columns. The index is
    kept: messages give line numbers in the file. Dropping every row is a PipelineError."""
    if not drop:
        return frame, None
    blank = frame.isna()
    dropped = blank.any(axis=1)
    if not dropped.any():
        return frame, None
    counts = blank.sum()
    columns = ", ".join(f"{c} ({int(counts[c])})" for c in frame.columns[counts > 0])
    if dropped.all():
        raise PipelineError(
            f"{source}: every one of the {len(frame)} rows has a blank cell (blank cells per column: "
            f"{columns}), so dropping them leaves none; fill the blanks or leave the mostly blank "
            "columns out with dataset.features (and set dataset.drop_blank_rows=false)"
        )
    names = ", ".join(str(c) for c in frame.columns[counts > 0])
    notice = (
        f"normalize: dropped {int(dropped.sum())} of {len(frame)} rows with a blank cell (columns {names}); "
        "dataset.drop_blank_rows=false refuses them instead"
    )
    return frame[~dropped], notice


def numbers(values: pd.Series) -> pd.Series:
    """A checked numeric column as float64 (the schema has refused text and infinities)."""
    return pd.to_numeric(values).astype("float64")


def constant_columns(frame: pd.DataFrame, features: list[str], categorical: list[str]) -> list[str]:
    """Features with a single value in every row: nothing for the network to learn from."""
    values = {c: category_strings(frame[c]) if c in categorical else numbers(frame[c]) for c in features}
    return [c for c in features if values[c].nunique(dropna=False) <= 1]


def kept_features(features: list[str], constant: list[str], dataset: DatasetConfig, source: str) -> list[str]:
    """The features that stay: all, or (dataset.constant_columns=drop) the non-constant ones."""
    if dataset.constant_columns == "keep":
        return features
    kept = [c for c in features if c not in constant]
    if not kept:
        raise PipelineError(
            f"{source}: every feature column is constant ({constant}): nothing to learn from; "
            "check dataset.features"
        )
    return kept


def constant_notice(constant: list[str], policy: str, source: str) -> str | None:
    """The line that tells the user what happened to constant columns, if any."""
    if not constant:
        return None
    if policy == "drop":
        return f"note: {source}: constant column(s) {constant} dropped (dataset.constant_columns=drop)"
    return (
        f"warning: {source}: constant column(s) {constant} kept unscaled; "
        "set dataset.constant_columns=drop to drop them"
    )


def build_schema(frame: pd.DataFrame, dataset: DatasetConfig, features: list[str]) -> dict[str, Any]:
    """What training and the served model need to know of the raw columns and their encoding."""
    numeric = [c for c in features if c not in dataset.categorical]
    categorical = {
        c: sorted(category_strings(frame[c]).unique().tolist()) for c in dataset.categorical if c in features
    }
    schema = {
        "target": dataset.target,
        "raw_features": features,
        "raw_dtypes": {c: str(frame[c].dtype) for c in features},
        "numeric": numeric,
        "categorical": categorical,
        "encoded_features": encoded_names(numeric, categorical),
    }
    if dataset.log_features:
        schema["log_numeric"] = list(dataset.log_features)
    if dataset.cluster_similarity.columns:
        schema["cluster_similarity"] = dataset.cluster_similarity.model_dump()
    return schema


def check_log_features(frame: pd.DataFrame, dataset: DatasetConfig, features: list[str], source: str) -> None:
    """`dataset.log_features` must be numeric features whose every value is >= 0."""
    numeric = [c for c in features if c not in dataset.categorical]
    for column in dataset.log_features:
        if column not in numeric:
            raise PipelineError(
                f"dataset.log_features: {column!r} is not a numeric feature; numeric features: {numeric}"
            )
        values = numbers(frame[column])
        if (values < 0).any():
            row = values.index[values < 0][0]
            raise PipelineError(
                f"{source}: column {column!r}, line {row + 2}: {values[row]:g} is negative; "
                "dataset.log_features takes log(1 + x) of columns >= 0: drop it from dataset.log_features"
            )


def check_cluster_columns(dataset: DatasetConfig, features: list[str]) -> None:
    """`dataset.cluster_similarity.columns` must be numeric features, each named once."""
    numeric = [c for c in features if c not in dataset.categorical]
    columns = dataset.cluster_similarity.columns
    for column in columns:
        if column not in numeric:
            raise PipelineError(
                f"dataset.cluster_similarity.columns: {column!r} is not a numeric feature; "
                f"numeric features: {numeric}"
            )
    if len(set(columns)) < len(columns):
        raise PipelineError(f"dataset.cluster_similarity.columns names a column twice: {columns}")


def normalize(
    frame: pd.DataFrame, dataset: DatasetConfig, source: str
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Raw frame -> (encoded features plus target, schema); bad data is one PipelineError.
    A classification target becomes class indices, its classes and task in the schema."""
    from pipeline.data.schemas import validate  # pandera: imported by the stages that check data only

    columns = [str(c) for c in frame.columns]
    features = feature_columns(columns, dataset)
    check_roles(dataset, features, columns)
    check_blank_columns(frame, dataset, features, source)
    frame, dropped = drop_blank_rows(frame, dataset.drop_blank_rows, source)
    validate(frame, dataset, features, columns, source)
    constant = constant_columns(frame, features, dataset.categorical)
    features = kept_features(features, constant, dataset, source)
    check_log_features(frame, dataset, features, source)
    check_cluster_columns(dataset, features)
    frame = frame[[*features, dataset.target]]
    target = frame[dataset.target]
    labels = class_labels(target, dataset.task, source) if dataset.task != "regression" else None
    schema = build_schema(frame, dataset, features) | {
        "constant_columns": constant,
        "task": labels.task if labels else "regression",
        "classes": labels.classes if labels else None,
    }
    encoded = encode(frame, schema)
    encoded[dataset.target] = labels.codes if labels else numbers(frame[dataset.target])
    chosen = labels.note if labels else auto_note(target) if dataset.task == "auto" else None
    for line in (dropped, chosen and f"note: {chosen}"):  # once the data passed every check
        if line:
            print(line, file=sys.stderr)
    return encoded, schema


def normalize_folder(dataset: DatasetConfig, raw_dir: Path, interim_dir: Path) -> dict[str, Any]:
    """Read the raw file, normalize it and replace `interim_dir` with the result and its schema;
    return the schema and the row count. A raw folder made from another `dataset` config is
    refused; the interim folder carries the raw folder's stamp (pipeline.data.fingerprint)."""
    stamp = stamp_of(raw_dir, dataset)
    label = read_json(raw_dir / PROVENANCE_FILE)["source"]  # the user's dataset.path, not the copy
    frame = read_table(raw_dir / RAW_FILE, dataset.separator, label)
    encoded, schema = normalize(frame, dataset, label)
    with atomic_dir(interim_dir) as tmp:
        encoded.to_parquet(tmp / NORMALIZED_FILE, index=False)
        write_json(tmp / SCHEMA_FILE, schema)
        write_json(tmp / PROVENANCE_FILE, stamp)
    notice = constant_notice(schema["constant_columns"], dataset.constant_columns, label)
    if notice:
        print(notice, file=sys.stderr)
    return schema | {"rows": len(encoded)}
