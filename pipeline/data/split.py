"""Split: seeded train / validation / test partitions and training-only scaling statistics.
A classification target's partitions are stratified by class.

The course lab standardizes all rows before splitting, which leaks validation rows into
training; here the statistics come from the training rows only.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.config import DatasetConfig, SplitConfig
from pipeline.core.errors import PipelineError
from pipeline.core.files import MANIFEST_FILE, NORMALIZED_FILE, PARTS, SCALER_FILE, SCHEMA_FILE, part_file
from pipeline.core.io import atomic_dir, md5_file, read_json, write_json
from pipeline.data.features import encoded_names, fit_standardizer, with_similarities
from pipeline.data.fingerprint import prepared_fingerprints, stamp_of
from pipeline.data.labels import class_counts


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


def stratified_partition(
    frame: pd.DataFrame, sizes: dict[str, int], seed: int, target: str, classes: list[str], source: str
) -> dict[str, pd.DataFrame]:
    """Partitions of the sizes asked with each class in the same proportion in every one
    (scikit-learn's stratified `train_test_split`, seeded), rows in file order within each."""
    from sklearn.model_selection import train_test_split

    codes = frame[target].to_numpy(dtype="int64")
    counts = class_counts(codes, classes)
    few = {name: n for name, n in counts.items() if n < len(PARTS)}
    if few:
        raise PipelineError(
            f"{source}: class(es) {few} of {target!r} have too few rows to stratify the split "
            f"(each class needs at least {len(PARTS)}: one per partition); classes found {counts}"
        )
    small = {part: n for part, n in sizes.items() if n < len(classes)}
    if small:
        raise PipelineError(
            f"{source}: partition(s) {small} would hold fewer rows than the {len(classes)} classes of "
            f"{target!r}; a stratified split needs one of every class in each: raise split.validation "
            "and split.test (e.g. split.test=0.2)"
        )
    index = np.arange(len(frame))
    try:
        rest, test = train_test_split(index, test_size=sizes["test"], stratify=codes, random_state=seed)
        train, validation = train_test_split(
            rest, test_size=sizes["validation"], stratify=codes[rest], random_state=seed
        )
    except ValueError as err:
        raise PipelineError(f"{source}: cannot stratify the split by {target!r}: {err}") from None
    rows = {"train": train, "validation": validation, "test": test}
    return {part: frame.iloc[np.sort(rows[part])].reset_index(drop=True) for part in PARTS}


def fit_clusters(train: pd.DataFrame, spec: dict[str, Any]) -> dict[str, Any]:
    """k-means centers of the training rows' `spec["columns"]` (scikit-learn's KMeans, 10
    seeded restarts): what `cluster_similarity` needs, with the columns and gamma."""
    from sklearn.cluster import KMeans

    points = train[spec["columns"]].to_numpy(dtype="float64")
    distinct = len(np.unique(points, axis=0))
    if distinct < spec["clusters"]:
        raise PipelineError(
            f"dataset.cluster_similarity.clusters={spec['clusters']} is more than the {distinct} distinct "
            f"points of {spec['columns']} among the training rows; set dataset.cluster_similarity.clusters "
            f"to at most {distinct}"
        )
    kmeans = KMeans(spec["clusters"], n_init=10, random_state=spec["seed"]).fit(points)
    return {
        "columns": list(spec["columns"]),
        "centers": kmeans.cluster_centers_.tolist(),
        "gamma": spec["gamma"],
    }


def fit_scaler(train: pd.DataFrame, schema: dict[str, Any]) -> dict[str, Any]:
    """Standardization statistics for features and target, from the training rows only; with
    `schema["cluster_similarity"]`, also the k-means centers, and the statistics of the
    similarity inputs they give (pipeline.data.features.with_similarities)."""
    spec = schema.get("cluster_similarity")
    clusters = fit_clusters(train, spec) if spec else None
    inputs = with_similarities(train[schema["encoded_features"]], clusters)
    features = list(inputs.columns)
    stats = fit_standardizer(inputs.to_numpy())
    constant = [f for f in features if inputs[f].nunique(dropna=False) <= 1]
    told = set(schema.get("constant_columns") or [])  # normalize has said so of these
    if [c for c in constant if c not in told]:
        print(
            f"warning: constant feature column(s) {[c for c in constant if c not in told]} "
            "in the training rows are kept unscaled",
            file=sys.stderr,
        )
    # One-hot columns stay 0/1: standardized, a rare category becomes a huge input
    # (California's ISLAND: 64) that blows up SGD whenever its row is in a batch.
    one_hot = set(encoded_names([], schema.get("categorical", {})))
    for index, name in enumerate(features):
        if name in one_hot:
            stats["mean"][index], stats["std"][index] = 0.0, 1.0
    if schema.get("task", "regression") == "regression":
        target = fit_standardizer(train[[schema["target"]]].to_numpy())
    else:  # class indices are never scaled
        target = {"mean": [0.0], "std": [1.0]}
    return {
        "features": {"names": features, **stats},
        "target": {"name": schema["target"], "mean": target["mean"][0], "std": target["std"][0]},
        "constant_features": constant,
        **({"clusters": clusters} if clusters else {}),
    }


def split_folder(
    dataset: DatasetConfig, split: SplitConfig, interim_dir: Path, processed_dir: Path
) -> dict[str, int]:
    """Partition the normalized data and replace `processed_dir` with the parts, the scaler and
    a manifest naming the data's fingerprints, computed from the interim folder's stamp (what
    it was made from) and `split`; return the row count per partition. An interim folder made
    from another `dataset` config is refused (a PipelineError saying to run `dvc repro`)."""
    stamp = stamp_of(interim_dir, dataset)
    frame = pd.read_parquet(interim_dir / NORMALIZED_FILE)
    schema = read_json(interim_dir / SCHEMA_FILE)
    source = dataset.path or dataset.url or f"dataset={dataset.name}"  # the user's file, not the copy
    sizes = split_sizes(len(frame), split, source)
    if schema.get("task", "regression") == "regression":
        parts = partition(frame, sizes, split.seed)
    else:
        target, classes = schema["target"], schema["classes"]
        parts = stratified_partition(frame, sizes, split.seed, target, classes, source)
    with atomic_dir(processed_dir) as tmp:
        for part, rows in parts.items():
            rows.to_parquet(tmp / part_file(part), index=False)
        write_json(tmp / SCALER_FILE, fit_scaler(parts["train"], schema))
        write_json(tmp / SCHEMA_FILE, schema)
        write_json(
            tmp / MANIFEST_FILE,
            {
                **prepared_fingerprints(stamp, split),
                "rows": sizes,
                "md5": {part: md5_file(tmp / part_file(part)) for part in PARTS},
            },
        )
    return sizes
