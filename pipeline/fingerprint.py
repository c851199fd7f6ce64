"""The identity of a prepared data set: what decides the partitions' content."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pipeline.config import Config
from pipeline.io import sha256_file


def _digest(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _config_payload(cfg: Config) -> dict[str, Any]:
    return {"dataset": cfg.dataset.model_dump(mode="json"), "split": cfg.split.model_dump(mode="json")}


def source_is_local(cfg: Config) -> bool:
    return bool(cfg.dataset.path) and Path(str(cfg.dataset.path)).is_file()


def data_fingerprint(cfg: Config) -> str:
    """Hash of the dataset and split config, and of the source file when it is local."""
    payload = _config_payload(cfg)
    if source_is_local(cfg):
        payload["source_sha256"] = sha256_file(cfg.dataset.path)
    return _digest(payload)


def config_fingerprint(cfg: Config) -> str:
    """Hash of the dataset and split config alone: what a machine without the source file can check."""
    return _digest(_config_payload(cfg))
