"""Hydra callback for multiruns: one MLflow parent run per sweep, the comparison at the end.

Configured in conf/config.yaml (`hydra.callbacks.sweep`). At the start it creates the
store, the experiment and the parent run once, before parallel jobs could race on them,
and hands the parent's id to the jobs through the environment. At the end it compares
the jobs' runs, logs the report on the parent, closes it with the true status, and exits
non-zero when a job failed.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from pipeline.config import Config, validate_config
from pipeline.errors import PipelineError
from pipeline.run import JOB_FILE, PARENT_ENV
from pipeline.tracking import resume_run, start_sweep_run, sweep_children


def job_records(sweep_dir: Path) -> list[dict[str, Any]]:
    """The `job.json` each job of the sweep wrote, in job order."""
    records = []
    for path in sorted(sweep_dir.glob(f"*/{JOB_FILE}"), key=lambda p: (len(p.parent.name), p.parent.name)):
        records.append({"job": path.parent.name, **json.loads(path.read_text(encoding="utf-8"))})
    return records


class SweepCallback(Callback):
    def __init__(self) -> None:
        self.cfg: Config | None = None
        self.parent_id: str | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        raw = OmegaConf.to_container(config, resolve=False)
        assert isinstance(raw, dict)
        raw.pop("hydra", None)
        try:
            self.cfg = validate_config(OmegaConf.to_container(OmegaConf.create(raw), resolve=True), "conf/")
        except PipelineError as err:
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(2) from None
        if not self.cfg.tracking.enabled:
            return
        name = f"{self.cfg.tracking.sweep_name}-{datetime.now():%Y%m%d-%H%M%S}"
        tags = {
            "sweep_dir": str(Path(config.hydra.sweep.dir).resolve()),
            "sweep_overrides": " ".join(config.hydra.overrides.task),
        }
        self.parent_id = start_sweep_run(self.cfg.tracking, self.cfg.paths, name, tags)
        os.environ[PARENT_ENV] = self.parent_id
        print(f"sweep: MLflow parent run {name} ({self.parent_id})")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from pipeline.compare import compare_runs

        os.environ.pop(PARENT_ENV, None)
        sweep_dir = Path(config.hydra.sweep.dir)
        records = job_records(sweep_dir)
        failed = [r for r in records if r.get("status") == "failed"]
        cfg, parent_id = self.cfg, self.parent_id
        if cfg is not None and parent_id is not None:
            parent = resume_run(cfg.tracking, cfg.paths, parent_id)
            runs = sweep_children(cfg.tracking, cfg.paths, parent_id)
            title = cfg.tracking.sweep_name
            if runs:
                compare_runs(cfg, runs, sweep_dir / "comparison", _metric(cfg), title)
                for path in sorted((sweep_dir / "comparison").iterdir()):
                    parent.log_artifact(path, "comparison")
            for extra in ("optimization_results.yaml", "multirun.yaml"):
                if (sweep_dir / extra).is_file():
                    parent.log_artifact(sweep_dir / extra)
            parent.log_metrics({"jobs": len(records), "jobs_failed": len(failed)})
            parent.end("FAILED" if failed else "FINISHED")
        if failed:
            for record in failed:
                print(
                    f"failed job {record['job']} ({' '.join(record.get('overrides', []))}): "
                    f"{record.get('error')}",
                    file=sys.stderr,
                )
            print(f"sweep: {len(failed)} of {len(records)} job(s) failed", file=sys.stderr)
            raise SystemExit(1)


def _metric(cfg: Config) -> str:
    return "cv_val_mse_mean" if cfg.training.cv_folds >= 2 else "validation_mse_scaled"
