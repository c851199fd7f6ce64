"""Ingest: bring the configured data set into a raw folder unchanged, with its provenance."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.core.config import DatasetConfig
from pipeline.core.files import PROVENANCE_FILE, RAW_FILE
from pipeline.core.io import atomic_dir, sha256_file, write_json
from pipeline.data.fingerprint import made_from, source_is_local
from pipeline.data.sources import (
    breast_cancer_frame,
    diabetes_frame,
    digits_frame,
    local_source,
    moons_frame,
    synthetic_frame,
)
from pipeline.data.tabular import read_table, refuse_if_too_large


def generated(dataset: DatasetConfig) -> tuple[pd.DataFrame, str] | None:
    """A bundled or generated data set's frame and a description of it; None for a file."""
    spec = dataset.synthetic
    if dataset.name == "diabetes":
        return diabetes_frame(), "sklearn.datasets.load_diabetes(scaled=False)"
    if dataset.name == "digits":
        return digits_frame(), "sklearn.datasets.load_digits()"
    if dataset.name == "breast_cancer":
        return breast_cancer_frame(), "sklearn.datasets.load_breast_cancer(), target as its class names"
    if dataset.name == "moons" and spec is not None:
        size = f"n_samples={spec.n_samples}, noise={spec.noise}, random_state={spec.seed}"
        return moons_frame(spec), f"sklearn.datasets.make_moons({size})"
    if dataset.name == "synthetic" and spec is not None:
        size = f"n={spec.n_samples}, noise={spec.noise}, seed={spec.seed}"
        wave = "sin(2*pi*x)" if spec.frequency == 1 else f"sin(2*pi*{spec.frequency:g}*x)"
        return synthetic_frame(spec), f"synthetic {wave} + noise ({size})"
    return None


def materialize(dataset: DatasetConfig, download_dir: Path, target: Path) -> str:
    """Write the data set's raw file to `target`; return a description of its source: for a
    file, `dataset.path` (else `dataset.url`) as the user wrote it, the name every later
    message about the data uses."""
    made = generated(dataset)
    if made is not None:
        made[0].to_csv(target, index=False, sep=dataset.separator)
        return made[1]
    source = local_source(dataset, download_dir)
    named = dataset.path or str(dataset.url)  # as configured: a relative path reads the same in every clone
    refuse_if_too_large(source, named)  # before copying it
    shutil.copyfile(source, target)
    return named


def provenance(dataset: DatasetConfig, source: str, raw_file: Path) -> dict[str, Any]:
    """What was ingested; the same data and config give the same record, byte for byte, in
    any clone at any time (no clock, no absolute path), so `dvc.lock` can say two people
    got the same data. Reading it here refuses an unreadable file before the stage ends
    (messages name the source, not the temporary copy)."""
    frame = read_table(raw_file, dataset.separator, label=source)
    return {
        "dataset": dataset.name,
        "source": source,
        "file": RAW_FILE,
        "rows": int(len(frame)),
        "columns": [str(c) for c in frame.columns],
        "sha256": sha256_file(raw_file),
    }


def ingest(dataset: DatasetConfig, download_dir: Path, raw_dir: Path) -> dict[str, Any]:
    """Replace `raw_dir` with the data set's raw file and its provenance record, stamped with
    the config and source file it was made from (pipeline.data.fingerprint); return the record."""
    with atomic_dir(raw_dir) as tmp:
        raw_file = tmp / RAW_FILE
        source = materialize(dataset, download_dir, raw_file)
        record = provenance(dataset, source, raw_file)
        record |= made_from(dataset, record["sha256"] if source_is_local(dataset) else None)
        if dataset.sha256 and dataset.path and record["sha256"] != dataset.sha256:
            record["sha256_expected"] = dataset.sha256
        write_json(tmp / PROVENANCE_FILE, record)
    if record.get("sha256_expected"):
        print(f"warning: {dataset.path}: sha256 differs from dataset.sha256 (another edition?)")
    return record
