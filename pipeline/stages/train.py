"""Stage 4, train: build the network from config, train it, record the run in MLflow
(the step itself is pipeline.steps.train, which a Hydra job runs too)."""

from __future__ import annotations

from pathlib import Path

from pipeline.core.config import load_config
from pipeline.core.errors import run_cli
from pipeline.core.io import write_json
from pipeline.data.fingerprint import refuse_other_config
from pipeline.data.prepared import load_prepared
from pipeline.steps.train import train_and_record
from pipeline.tracking.recorder import tracked_run
from pipeline.tracking.records import recorded_params
from pipeline.tracking.store import run_location


def main() -> None:
    cfg = load_config()
    prepared = load_prepared(cfg.paths.processed_dir)
    refuse_other_config(prepared.manifest, prepared.directory, cfg.dataset, cfg.split)  # before a run opens
    model_dir = Path(cfg.paths.model_dir)
    with tracked_run(cfg.tracking, cfg.paths, run_name=cfg.tracking.run_name) as recorder:
        if recorder is not None:
            recorder.log_params(recorded_params(cfg))
        result = train_and_record(
            cfg,
            prepared,
            model_dir,
            Path(cfg.paths.history),
            recorder,
            Path(cfg.paths.train_figures),
            rounded=True,
        )
        run_id = recorder.run_id if recorder is not None else None
    write_json(Path(cfg.paths.run_record), {"run_id": run_id, "status": result.status})
    from pipeline.model.training import describe

    print(describe(result))
    print(run_location(cfg.tracking, cfg.paths, cfg.tracking.run_name, run_id))


if __name__ == "__main__":
    run_cli(main)
