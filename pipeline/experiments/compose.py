"""Write `params.yaml` from `conf/` exactly as DVC's Hydra integration does on `dvc exp run`.

`python -m pipeline.compose [OVERRIDE ...] [--output FILE]`: `dvc repro` never recomposes,
so run this (or `make params`) after editing `conf/`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.core.config import Config, validate_config
from pipeline.core.credentials import credentials_in_overrides, mask_credentials

CONFIG_DIR = "conf"
CONFIG_NAME = "config"


def compose_params(output: Path, overrides: list[str], config_dir: Path | None = None) -> None:
    """Compose `conf/` (plus Hydra overrides) into `output` with DVC's own function."""
    from dvc.utils.hydra import compose_and_dump

    config_dir = (config_dir or Path.cwd() / CONFIG_DIR).resolve()
    compose_and_dump(output, str(config_dir), None, CONFIG_NAME, str(config_dir), overrides)


def compose_config(overrides: list[str] | None = None, config_dir: Path | None = None) -> Config:
    """Compose `conf/` with Hydra overrides into a validated Config (for tests and benchmarks)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    config_dir = (config_dir or Path.cwd() / CONFIG_DIR).resolve()
    with initialize_config_dir(str(config_dir), version_base=None):
        cfg = compose(config_name=CONFIG_NAME, overrides=list(overrides or []))
    source = mask_credentials(f"{config_dir} {overrides or ''}")
    return validate_config(OmegaConf.to_container(cfg, resolve=True), source)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. optimizer=adam")
    parser.add_argument("--output", default="params.yaml", type=Path)
    args = parser.parse_args()
    refused = credentials_in_overrides(args.overrides)
    if refused:  # params.yaml would keep them
        print(f"error: {refused}", file=sys.stderr)
        raise SystemExit(2)
    compose_params(args.output, args.overrides)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
