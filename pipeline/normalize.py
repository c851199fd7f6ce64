"""Stage 2, normalize: validate the schema, drop blank rows, one-hot encode, select columns.

Only row-wise, stateless transforms: nothing here is fitted to the data's values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.config import Config, DatasetConfig, load_config
from pipeline.errors import PipelineError, run_cli
from pipeline.features import category_strings, encode, encoded_names
from pipeline.ingest import PROVENANCE_FILE, RAW_FILE
from pipeline.io import atomic_dir, read_json, write_json
from pipeline.tabular import read_table

NORMALIZED_FILE = "normalized.parquet"
SCHEMA_FILE = "schema.json"


def select_columns(frame: pd.DataFrame, dataset: DatasetConfig, source: str) -> list[str]:
    """The raw feature columns, in order; a missing column is a PipelineError listing what exists."""
    columns = [str(c) for c in frame.columns]
    wanted = dataset.features if dataset.features is not None else [c for c in columns if c != dataset.target]
    missing = [c for c in [dataset.target, *wanted, *dataset.categorical] if c not in columns]
    if missing:
        raise PipelineError(f"{source}: missing column(s) {sorted(set(missing))}; the file has {columns}")
    stray = [c for c in dataset.categorical if c not in wanted]
    if stray:
        raise PipelineError(f"dataset.categorical: {stray} are not among the features {wanted}")
    if dataset.target in wanted:
        raise PipelineError(f"dataset.features: the target {dataset.target!r} cannot be a feature")
    return wanted


def drop_blank_rows(frame: pd.DataFrame, used: list[str], drop: bool, source: str) -> pd.DataFrame:
    """Drop every row with a blank cell (as the course does), or refuse blanks in used columns."""
    if drop:
        return frame.dropna()  # keep the index: messages give line numbers in the file
    blank = frame[used].isna()
    if blank.any(axis=None):
        columns = sorted(str(c) for c in blank.columns[blank.any()])
        rows = blank.any(axis=1).to_numpy()
        first = int(np.flatnonzero(rows)[0]) + 2  # 1-based line number, after the header
        raise PipelineError(
            f"{source}: {int(rows.sum())} row(s) have blank cells in {columns} (first at line "
            f"{first}); set dataset.drop_blank_rows=true to drop them"
        )
    return frame


def check_numeric(frame: pd.DataFrame, numeric: list[str], source: str) -> None:
    """Every offending column at once: non-numeric text or infinite values."""
    problems = []
    for column in numeric:
        values = frame[column]
        coerced = pd.to_numeric(values, errors="coerce")
        bad = coerced.isna() & values.notna()
        if bad.any():
            examples = sorted({str(v) for v in values[bad].head(3)})
            problems.append(f"{column!r} has non-numeric values {examples} (line {int(bad.idxmax()) + 2})")
        elif np.isinf(coerced.to_numpy(dtype="float64")).any():
            problems.append(f"{column!r} has infinite values")
    if problems:
        raise PipelineError(f"{source}: " + "; ".join(problems))


def build_schema(frame: pd.DataFrame, dataset: DatasetConfig, features: list[str]) -> dict[str, Any]:
    numeric = [c for c in features if c not in dataset.categorical]
    categorical = {c: sorted(category_strings(frame[c]).unique().tolist()) for c in dataset.categorical}
    return {
        "target": dataset.target,
        "raw_features": features,
        "raw_dtypes": {c: str(frame[c].dtype) for c in features},
        "numeric": numeric,
        "categorical": categorical,
        "encoded_features": encoded_names(numeric, categorical),
    }


def normalize(
    frame: pd.DataFrame, dataset: DatasetConfig, source: str
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Raw frame -> (encoded features plus target, schema)."""
    features = select_columns(frame, dataset, source)
    used = [*features, dataset.target]
    frame = drop_blank_rows(frame, used, dataset.drop_blank_rows, source)[used]
    if frame.empty:
        raise PipelineError(f"{source}: no rows left after dropping rows with blank cells")
    numeric = [c for c in features if c not in dataset.categorical]
    check_numeric(frame, [*numeric, dataset.target], source)
    schema = build_schema(frame, dataset, features)
    encoded = encode(frame, schema)
    encoded[dataset.target] = pd.to_numeric(frame[dataset.target]).astype("float64")
    return encoded, schema


def normalize_stage(cfg: Config, raw_dir: Path, interim_dir: Path) -> dict[str, Any]:
    """Read the raw file, normalize it and replace `interim_dir` with the result and its schema."""
    raw_file = raw_dir / RAW_FILE
    frame = read_table(raw_file, cfg.dataset.separator)
    source = read_json(raw_dir / PROVENANCE_FILE)["source"]
    encoded, schema = normalize(frame, cfg.dataset, f"{raw_file} (from {source})")
    with atomic_dir(interim_dir) as tmp:
        encoded.to_parquet(tmp / NORMALIZED_FILE, index=False)
        write_json(tmp / SCHEMA_FILE, schema)
    return schema | {"rows": len(encoded)}


def main() -> None:
    cfg = load_config()
    summary = normalize_stage(cfg, Path(cfg.paths.raw_dir), Path(cfg.paths.interim_dir))
    print(f"normalize: {summary['rows']} rows, {len(summary['encoded_features'])} model inputs")


if __name__ == "__main__":
    run_cli(main)
