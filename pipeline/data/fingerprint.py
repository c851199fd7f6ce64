"""The identity of a prepared data set: what decides the partitions' content.

Each data stage's output carries a stamp of what it was made from (`provenance.json` in the
raw and interim folders): the fingerprint of the whole `dataset` config and, for a local
source file, its SHA-256. The next stage refuses an input whose stamp is not the current
config's, and the split stage's manifest is computed from the stamp it was given, so a
prepared folder's fingerprints describe its content, never only the config of the moment.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.core.config import DatasetConfig, SplitConfig
from pipeline.core.errors import PipelineError
from pipeline.core.files import PROVENANCE_FILE
from pipeline.core.io import read_json, sha256_file

DATASET_KEY = "dataset_fingerprint"
SOURCE_KEY = "source_sha256"


def _digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def source_is_local(dataset: DatasetConfig) -> bool:
    """Whether `dataset.path` names a file on this machine."""
    return bool(dataset.path) and Path(str(dataset.path)).is_file()


def dataset_fingerprint(dataset: DatasetConfig) -> str:
    """Hash of every `dataset` key (none is left out: each may shape the data)."""
    return _digest(dataset.model_dump(mode="json"))


def made_from(dataset: DatasetConfig, source_sha256: str | None) -> dict[str, str | None]:
    """The stamp of a stage output made from `dataset` and a source file of that SHA-256
    (None when the data is generated or downloaded)."""
    return {DATASET_KEY: dataset_fingerprint(dataset), SOURCE_KEY: source_sha256}


def current_stamp(dataset: DatasetConfig) -> dict[str, str | None]:
    """The stamp that the config of the moment, with its local source file as it is now, would give."""
    return made_from(dataset, sha256_file(str(dataset.path)) if source_is_local(dataset) else None)


def prepared_fingerprints(stamp: Mapping[str, Any], split: SplitConfig) -> dict[str, str]:
    """A prepared folder's `fingerprint` (the stamp's config and source file, and the split)
    and `config_fingerprint` (without the source file: what a machine without it can check)."""
    config = {"dataset": stamp[DATASET_KEY], "split": split.model_dump(mode="json")}
    source = {SOURCE_KEY: stamp[SOURCE_KEY]} if stamp.get(SOURCE_KEY) else {}
    return {"fingerprint": _digest(config | source), "config_fingerprint": _digest(config)}


def data_fingerprint(dataset: DatasetConfig, split: SplitConfig) -> str:
    """Hash of every dataset and split key, and of the source file when it is local."""
    return prepared_fingerprints(current_stamp(dataset), split)["fingerprint"]


def config_fingerprint(dataset: DatasetConfig, split: SplitConfig) -> str:
    """Hash of the dataset and split config alone: what a machine without the source file can check."""
    return prepared_fingerprints(made_from(dataset, None), split)["config_fingerprint"]


def stamp_of(folder: Path, dataset: DatasetConfig) -> dict[str, Any]:
    """The stamp of a stage's output `folder`, checked against the current `dataset` config:
    a folder made from another config (or by a version that wrote no stamp) is a
    PipelineError telling how to remake it."""
    record = folder / PROVENANCE_FILE
    stamp = read_json(record) if record.is_file() else {}
    if stamp.get(DATASET_KEY) != dataset_fingerprint(dataset):
        raise PipelineError(
            f"{folder}: made from another `dataset` config than the current one (or by an older "
            "version of the pipeline); run `dvc repro` to remake it"
        )
    return {DATASET_KEY: stamp[DATASET_KEY], SOURCE_KEY: stamp.get(SOURCE_KEY)}


def refuse_other_config(
    manifest: Mapping[str, Any], directory: Path, dataset: DatasetConfig, split: SplitConfig
) -> None:
    """A prepared folder whose manifest was made from another dataset or split config than
    `dataset` and `split` is a PipelineError: nothing may train on data its config does not describe."""
    if manifest.get("config_fingerprint") != config_fingerprint(dataset, split):
        raise PipelineError(
            f"{directory}: prepared from another `dataset` or `split` config than the current one; "
            "run `dvc repro` to remake it"
        )
