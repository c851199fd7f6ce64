"""Stage 2, normalize: blank rows dropped, the data checked, categories one-hot encoded."""

from __future__ import annotations

from pathlib import Path

from pipeline.core.config import load_config
from pipeline.core.errors import run_cli
from pipeline.data.normalize import normalize_folder


def main() -> None:
    cfg = load_config()
    summary = normalize_folder(cfg.dataset, Path(cfg.paths.raw_dir), Path(cfg.paths.interim_dir))
    print(f"normalize: {summary['rows']} rows, {len(summary['encoded_features'])} model inputs")


if __name__ == "__main__":
    run_cli(main)
