"""The identity of a prepared data set: what decides the partitions' content."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pipeline.core.config import DatasetConfig, SplitConfig
from pipeline.core.io import sha256_file


def _digest(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _config_payload(dataset: DatasetConfig, split: SplitConfig) -> dict[str, Any]:
    return {"dataset": dataset.model_dump(mode="json"), "split": split.model_dump(mode="json")}


def source_is_local(dataset: DatasetConfig) -> bool:
    """Whether `dataset.path` names a file on this machine."""
    return bool(dataset.path) and Path(str(dataset.path)).is_file()


def data_fingerprint(dataset: DatasetConfig, split: SplitConfig) -> str:
    """Hash of the dataset and split config, and of the source file when it is local."""
    payload = _config_payload(dataset, split)
    if source_is_local(dataset):
        payload["source_sha256"] = sha256_file(str(dataset.path))
    return _digest(payload)


def config_fingerprint(dataset: DatasetConfig, split: SplitConfig) -> str:
    """Hash of the dataset and split config alone: what a machine without the source file can check."""
    return _digest(_config_payload(dataset, split))
