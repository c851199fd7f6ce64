"""Stage 1, ingest: the configured data set into `paths.raw_dir`, unchanged, with its provenance."""

from __future__ import annotations

from pathlib import Path

from pipeline.core.config import load_config
from pipeline.core.errors import run_cli
from pipeline.data.raw import ingest


def main() -> None:
    cfg = load_config()
    record = ingest(cfg.dataset, Path(cfg.paths.download_dir), Path(cfg.paths.raw_dir))
    print(f"ingest: {record['rows']} rows x {len(record['columns'])} columns from {record['source']}")


if __name__ == "__main__":
    run_cli(main)
