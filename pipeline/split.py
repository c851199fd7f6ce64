"""Stage 3, split: seeded train / validation / test partitions and training-only scaling stats.

The course lab standardizes all rows before splitting, which leaks validation rows into
training; here the statistics come from the training rows only.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.config import Config, SplitConfig, load_config
from pipeline.errors import PipelineError, process_main, run_cli
from pipeline.features import encoded_names, fit_standardizer
from pipeline.fingerprint import config_fingerprint, data_fingerprint
from pipeline.io import atomic_dir, md5_file, read_json, write_json
from pipeline.normalize import NORMALIZED_FILE, SCHEMA_FILE

PARTS = ("train", "validation", "test")
SCALER_FILE = "scaler.json"
MANIFEST_FILE = "manifest.json"


def part_file(part: str) -> str:
    return f"{part}.parquet"


def _count(size: float | int, rows: int) -> int:
    return int(round(size * rows)) if isinstance(size, float) else int(size)


def split_sizes(rows: int, split: SplitConfig, source: str = "data") -> dict[str, int]:
    """Row counts per partition; every partition must get at least one row."""
    validation, test = _count(split.validation, rows), _count(split.test, rows)
    train = rows - validation - test
    if validation < 1 or test < 1 or train < 2:
        raise PipelineError(
            f"{source}: {rows} rows are too few for split.validation={split.validation} and "
            f"split.test={split.test} (train {train}, validation {validation}, test {test}); "
            "training needs at least 2 rows and the other parts at least 1"
        )
    return {"train": train, "validation": validation, "test": test}


def partition(frame: pd.DataFrame, sizes: dict[str, int], seed: int) -> dict[str, pd.DataFrame]:
    """Shuffle rows with `seed` and cut them into the partitions, in PARTS order."""
    order = np.random.default_rng(seed).permutation(len(frame))
    parts, start = {}, 0
    for part in PARTS:
        rows = order[start : start + sizes[part]]
        parts[part] = frame.iloc[np.sort(rows)].reset_index(drop=True)
        start += sizes[part]
    return parts


def fit_scaler(train: pd.DataFrame, schema: dict[str, Any]) -> dict[str, Any]:
    """Standardization statistics for features and target, from the training rows only."""
    features = schema["encoded_features"]
    stats = fit_standardizer(train[features].to_numpy())
    constant = [f for f in features if train[f].nunique(dropna=False) <= 1]
    if constant:
        warnings.warn(f"constant feature column(s) {constant} are kept unscaled", stacklevel=2)
    # One-hot columns stay 0/1: standardized, a rare category becomes a huge input
    # (California's ISLAND: 64) that blows up SGD whenever its row is in a batch.
    one_hot = set(encoded_names([], schema.get("categorical", {})))
    for index, name in enumerate(features):
        if name in one_hot:
            stats["mean"][index], stats["std"][index] = 0.0, 1.0
    target = fit_standardizer(train[[schema["target"]]].to_numpy())
    return {
        "features": {"names": features, **stats},
        "target": {"name": schema["target"], "mean": target["mean"][0], "std": target["std"][0]},
        "constant_features": constant,
    }


def split_stage(cfg: Config, interim_dir: Path, processed_dir: Path) -> dict[str, int]:
    """Partition the normalized data and replace `processed_dir` with the parts and scaler."""
    source = interim_dir / NORMALIZED_FILE
    frame = pd.read_parquet(source)
    schema = read_json(interim_dir / SCHEMA_FILE)
    sizes = split_sizes(len(frame), cfg.split, str(source))
    parts = partition(frame, sizes, cfg.split.seed)
    with atomic_dir(processed_dir) as tmp:
        for part, rows in parts.items():
            rows.to_parquet(tmp / part_file(part), index=False)
        write_json(tmp / SCALER_FILE, fit_scaler(parts["train"], schema))
        write_json(tmp / SCHEMA_FILE, schema)
        write_json(
            tmp / MANIFEST_FILE,
            {
                "fingerprint": data_fingerprint(cfg),
                "config_fingerprint": config_fingerprint(cfg),
                "rows": sizes,
                "md5": {part: md5_file(tmp / part_file(part)) for part in PARTS},
            },
        )
    return sizes


def main() -> None:
    cfg = load_config()
    sizes = split_stage(cfg, Path(cfg.paths.interim_dir), Path(cfg.paths.processed_dir))
    print("split: " + ", ".join(f"{part} {rows}" for part, rows in sizes.items()))


if __name__ == "__main__":
    process_main(lambda: run_cli(main))
