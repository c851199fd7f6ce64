"""Stage 3, split: seeded train / validation / test partitions and training-only scaling statistics."""

from __future__ import annotations

from pathlib import Path

from pipeline.core.config import load_config
from pipeline.core.errors import run_cli
from pipeline.data.split import split_folder


def main() -> None:
    cfg = load_config()
    sizes = split_folder(cfg.dataset, cfg.split, Path(cfg.paths.interim_dir), Path(cfg.paths.processed_dir))
    print("split: " + ", ".join(f"{part} {rows}" for part, rows in sizes.items()))


if __name__ == "__main__":
    run_cli(main)
