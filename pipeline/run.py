"""Hydra entry point: train and evaluate one configuration, or sweep many with `-m`.

    python -m pipeline.run optimizer=adam model.initializer=he_normal
    python -m pipeline.run -m optimizer=sgd,adam,rmsprop

Each job is one MLflow run. It reuses the stage functions and the prepared data of the
DVC stages (preparing it into a cache when it is missing or stale) and writes its model,
history and metrics into its own Hydra output folder.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

from pipeline.config import Config, validate_config
from pipeline.data import load_prepared
from pipeline.errors import PipelineError
from pipeline.evaluate import evaluate_and_record
from pipeline.prepare import ensure_prepared
from pipeline.tracking import tracked_run
from pipeline.train import describe, train_and_record

CONFIG_DIR = "conf"
OBJECTIVE = "validation"  # the partition whose scaled MSE a job returns (for sweepers)


def run_job(cfg: Config, out_dir: Path) -> dict[str, Any]:
    """Prepare data if needed, train, evaluate; everything recorded in one MLflow run."""
    prepared = load_prepared(ensure_prepared(cfg))
    with tracked_run(cfg.tracking, cfg.paths, run_name=cfg.tracking.run_name) as recorder:
        result = train_and_record(cfg, prepared, out_dir / "model", out_dir / "history.csv", recorder)
        report = evaluate_and_record(
            cfg,
            prepared,
            result.model,
            result.status,
            out_dir / "metrics.json",
            out_dir / "predictions.csv",
            recorder,
        )
    print(describe(result))
    return report


def objective(report: dict[str, Any]) -> float:
    if report.get("status") == "diverged":
        return math.inf
    return float(report[OBJECTIVE]["scaled"]["mse"])


def _job(dict_cfg: Any) -> float:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    hydra_cfg = HydraConfig.get()
    try:
        cfg = validate_config(OmegaConf.to_container(dict_cfg, resolve=True), "conf/ (Hydra)")
        return objective(run_job(cfg, Path(hydra_cfg.runtime.output_dir)))
    except PipelineError as err:
        if hydra_cfg.mode == RunMode.MULTIRUN:
            raise  # Hydra reports it, runs the other jobs, and the sweep exits non-zero
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


def main() -> None:
    import hydra

    config_dir = (Path.cwd() / CONFIG_DIR).resolve()
    if not config_dir.is_dir():
        print(f"error: {config_dir} not found; run from the project root", file=sys.stderr)
        raise SystemExit(2)
    hydra.main(version_base="1.3", config_path=str(config_dir), config_name="config")(_job)()


if __name__ == "__main__":
    main()
