"""Stage 1, ingest: bring the configured data set into the raw folder unchanged, with provenance."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.config import Config, DatasetConfig, load_config
from pipeline.errors import process_main, run_cli
from pipeline.io import atomic_dir, sha256_file, write_json
from pipeline.sources import diabetes_frame, local_source, synthetic_frame
from pipeline.tabular import read_table, refuse_if_too_large

RAW_FILE = "data.csv"
PROVENANCE_FILE = "provenance.json"


def materialize(dataset: DatasetConfig, download_dir: Path, target: Path) -> str:
    """Write the data set's raw file to `target`; return a description of its source."""
    if dataset.name == "diabetes":
        diabetes_frame().to_csv(target, index=False, sep=dataset.separator)
        return "sklearn.datasets.load_diabetes(scaled=False)"
    if dataset.name == "synthetic":
        assert dataset.synthetic is not None
        synthetic_frame(dataset.synthetic).to_csv(target, index=False, sep=dataset.separator)
        spec = dataset.synthetic
        return f"synthetic sin(2*pi*x) + noise (n={spec.n_samples}, noise={spec.noise}, seed={spec.seed})"
    source = local_source(dataset, download_dir)
    refuse_if_too_large(source)  # before copying it
    shutil.copyfile(source, target)
    if dataset.path:
        return str(Path(dataset.path).expanduser().resolve())
    return str(dataset.url)


def provenance(dataset: DatasetConfig, source: str, raw_file: Path) -> dict[str, Any]:
    """What was ingested; reading it here refuses an unreadable file before the stage ends
    (messages name the source, not the temporary copy)."""
    frame = read_table(raw_file, dataset.separator, label=source)
    return {
        "dataset": dataset.name,
        "source": source,
        "file": RAW_FILE,
        "rows": int(len(frame)),
        "columns": [str(c) for c in frame.columns],
        "sha256": sha256_file(raw_file),
        "ingested_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def ingest(cfg: Config, raw_dir: Path) -> dict[str, Any]:
    """Replace `raw_dir` with the data set's raw file and its provenance record."""
    with atomic_dir(raw_dir) as tmp:
        raw_file = tmp / RAW_FILE
        source = materialize(cfg.dataset, Path(cfg.paths.download_dir), raw_file)
        record = provenance(cfg.dataset, source, raw_file)
        if cfg.dataset.sha256 and cfg.dataset.path and record["sha256"] != cfg.dataset.sha256:
            record["sha256_expected"] = cfg.dataset.sha256
        write_json(tmp / PROVENANCE_FILE, record)
    if record.get("sha256_expected"):
        print(f"warning: {cfg.dataset.path}: sha256 differs from dataset.sha256 (another edition?)")
    return record


def main() -> None:
    cfg = load_config()
    record = ingest(cfg, Path(cfg.paths.raw_dir))
    print(f"ingest: {record['rows']} rows x {len(record['columns'])} columns from {record['source']}")


if __name__ == "__main__":
    process_main(lambda: run_cli(main))
