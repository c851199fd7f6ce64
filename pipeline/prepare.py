"""Prepared data for a configuration: the DVC stages' output when it matches, else a cache.

Hydra jobs call `ensure_prepared`. The data a job needs depends on `dataset` and `split`
only; their fingerprint names a folder under `paths.prepared_cache`, built once with the
same stage functions that DVC runs, so parallel jobs with different data sets never
overwrite each other or the DVC-tracked `data/` folders.

A machine without the source file (a Ray worker that received the project folder, the
prepared data included, but not the user's CSV) cannot hash the file; it accepts a
prepared folder whose manifest matches the dataset and split config instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from pipeline.config import Config
from pipeline.fingerprint import config_fingerprint, data_fingerprint, source_is_local
from pipeline.ingest import ingest
from pipeline.io import read_json
from pipeline.normalize import normalize_stage
from pipeline.split import MANIFEST_FILE, split_stage


def _matches(directory: Path, fingerprint: str, key: str = "fingerprint") -> bool:
    manifest = directory / MANIFEST_FILE
    return manifest.is_file() and read_json(manifest).get(key) == fingerprint


def shipped_without_source(cfg: Config) -> Path | None:
    """A prepared folder matching the config, for a machine where the source file is absent."""
    if not cfg.dataset.path or source_is_local(cfg):
        return None
    wanted = config_fingerprint(cfg)
    candidates = [Path(cfg.paths.processed_dir), *sorted(Path(cfg.paths.prepared_cache).glob("*"))]
    return next((d for d in candidates if _matches(d, wanted, "config_fingerprint")), None)


def prepare_into(cfg: Config, target: Path) -> None:
    """Run ingest, normalize and split into a scratch folder, then move the result to `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".prepare.", dir=target.parent))
    try:
        ingest(cfg, scratch / "raw")
        normalize_stage(cfg, scratch / "raw", scratch / "interim")
        split_stage(cfg, scratch / "interim", scratch / "processed")
        try:
            os.rename(scratch / "processed", target)
        except OSError:
            if not _matches(target, data_fingerprint(cfg)):  # not a concurrent twin: real failure
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def ensure_prepared(cfg: Config) -> Path:
    """The folder of prepared partitions for `cfg`, building it when missing or stale."""
    fingerprint = data_fingerprint(cfg)
    processed = Path(cfg.paths.processed_dir)
    if _matches(processed, fingerprint):
        return processed
    shipped = shipped_without_source(cfg)
    if shipped is not None:
        return shipped
    cached = Path(cfg.paths.prepared_cache) / fingerprint
    if not _matches(cached, fingerprint):
        prepare_into(cfg, cached)
    return cached
