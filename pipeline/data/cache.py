"""Prepared data for a configuration: the DVC stages' output when it matches, else a cache.

Hydra jobs call `ensure_prepared`. The data a job needs depends on `dataset` and `split`
only; their fingerprint names a folder under `paths.prepared_cache`, built once with the
same functions the DVC stages run, so parallel jobs with different data sets never
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

from pipeline.core.config import DatasetConfig, PathsConfig, SplitConfig
from pipeline.core.files import MANIFEST_FILE
from pipeline.core.io import read_json
from pipeline.data.fingerprint import config_fingerprint, data_fingerprint, source_is_local
from pipeline.data.normalize import normalize_folder
from pipeline.data.raw import ingest
from pipeline.data.split import split_folder


def _matches(directory: Path, fingerprint: str, key: str = "fingerprint") -> bool:
    manifest = directory / MANIFEST_FILE
    return manifest.is_file() and read_json(manifest).get(key) == fingerprint


def shipped_without_source(dataset: DatasetConfig, split: SplitConfig, paths: PathsConfig) -> Path | None:
    """A prepared folder matching the config, for a machine where the source file is absent."""
    if not dataset.path or source_is_local(dataset):
        return None
    wanted = config_fingerprint(dataset, split)
    candidates = [Path(paths.processed_dir), *sorted(Path(paths.prepared_cache).glob("*"))]
    return next((d for d in candidates if _matches(d, wanted, "config_fingerprint")), None)


def prepare_into(dataset: DatasetConfig, split: SplitConfig, download_dir: Path, target: Path) -> None:
    """Ingest, normalize and split into a scratch folder, then move the result to `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".prepare.", dir=target.parent))
    try:
        ingest(dataset, download_dir, scratch / "raw")
        normalize_folder(dataset, scratch / "raw", scratch / "interim")
        split_folder(dataset, split, scratch / "interim", scratch / "processed")
        try:
            os.rename(scratch / "processed", target)
        except OSError:
            if not _matches(target, data_fingerprint(dataset, split)):  # not a concurrent twin
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def ensure_prepared(dataset: DatasetConfig, split: SplitConfig, paths: PathsConfig) -> Path:
    """The folder of prepared partitions for `dataset` and `split`, built when missing or stale."""
    fingerprint = data_fingerprint(dataset, split)
    processed = Path(paths.processed_dir)
    if _matches(processed, fingerprint):
        return processed
    shipped = shipped_without_source(dataset, split, paths)
    if shipped is not None:
        return shipped
    cached = Path(paths.prepared_cache) / fingerprint
    if not _matches(cached, fingerprint):
        prepare_into(dataset, split, Path(paths.download_dir), cached)
    return cached
