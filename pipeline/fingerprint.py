"""The identity of a prepared data set: what decides the partitions' content."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pipeline.config import Config
from pipeline.io import sha256_file


def data_fingerprint(cfg: Config) -> str:
    """Hash of the dataset and split config, and of the source file when it is local."""
    payload = {"dataset": cfg.dataset.model_dump(mode="json"), "split": cfg.split.model_dump(mode="json")}
    if cfg.dataset.path and Path(cfg.dataset.path).is_file():
        payload["source_sha256"] = sha256_file(cfg.dataset.path)
    blob = json.dumps(payload, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
