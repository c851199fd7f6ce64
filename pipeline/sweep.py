"""Hydra callback for multiruns: one MLflow parent run per sweep, the comparison at the end.

Configured in conf/config.yaml (`hydra.callbacks.sweep`). At the start it creates the
store, the experiment and the parent run once, before parallel jobs could race on them,
and hands the parent's id to the jobs through the environment. At the end it compares
the jobs' runs (a job that failed before starting its own run gets a FAILED run here),
logs the report on the parent, closes it with the true status, and exits non-zero when
a job failed.
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
from pydantic import ValidationError

from pipeline.config import PathsConfig, TrackingConfig
from pipeline.run import JOB_FILE, PARENT_ENV
from pipeline.tracking import record_failed_job, resume_run, start_sweep_run, sweep_children


def job_records(sweep_dir: Path) -> list[dict[str, Any]]:
    """The `job.json` each job of the sweep wrote, in job order."""
    paths = sorted(sweep_dir.glob(f"*/{JOB_FILE}"), key=lambda p: (len(p.parent.name), p.parent.name))
    return [{"job": p.parent.name, **json.loads(p.read_text(encoding="utf-8"))} for p in paths]


def override_params(overrides: list[str]) -> dict[str, str]:
    """`key=value` overrides as params (a leading + or ~ dropped)."""
    pairs = (o.lstrip("+~").split("=", 1) for o in overrides if "=" in o)
    return {key: value for key, value in pairs}


class SweepCallback(Callback):
    def __init__(self) -> None:
        self.settings: tuple[TrackingConfig, PathsConfig, str] | None = None
        self.parent_id: str | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        # Only tracking and paths are needed here: other keys may be filled in by the sweep.
        try:
            tracking = TrackingConfig.model_validate(OmegaConf.to_container(config.tracking, resolve=True))
            paths = PathsConfig.model_validate(OmegaConf.to_container(config.paths, resolve=True))
        except ValidationError as err:
            print(f"error: conf/: invalid tracking or paths configuration: {err}", file=sys.stderr)
            raise SystemExit(2) from None
        cv = OmegaConf.select(config, "training.cv_folds", default=0) or 0
        metric = "cv_val_mse_mean" if cv >= 2 else "validation_mse_scaled"
        self.settings = (tracking, paths, metric)
        if not tracking.enabled:
            return
        name = f"{tracking.sweep_name}-{datetime.now():%Y%m%d-%H%M%S}"
        tags = {
            "sweep_dir": str(Path(config.hydra.sweep.dir).resolve()),
            "sweep_overrides": " ".join(config.hydra.overrides.task),
        }
        self.parent_id = start_sweep_run(tracking, paths, name, tags)
        os.environ[PARENT_ENV] = self.parent_id
        print(f"sweep: MLflow parent run {name} ({self.parent_id})")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from pipeline.compare import compare_runs

        os.environ.pop(PARENT_ENV, None)
        sweep_dir = Path(config.hydra.sweep.dir)
        records = job_records(sweep_dir)
        failed = [r for r in records if r.get("status") == "failed"]
        if self.settings is not None and self.parent_id is not None:
            tracking, paths, metric = self.settings
            for record in failed:
                if not record.get("run_id"):
                    overrides = record.get("overrides", [])
                    record["run_id"] = record_failed_job(
                        tracking,
                        paths,
                        self.parent_id,
                        f"job{record['job']}-failed",
                        override_params(overrides),
                        str(record.get("error")),
                    )
            parent = resume_run(tracking, paths, self.parent_id)
            compared = True
            try:
                runs = sweep_children(tracking, paths, self.parent_id)
                if runs:
                    report_dir = sweep_dir / "comparison"
                    compare_runs(tracking, paths, runs, report_dir, metric, tracking.sweep_name)
                    for path in sorted(report_dir.iterdir()):
                        parent.log_artifact(path, "comparison")
                for extra in ("optimization_results.yaml", "multirun.yaml"):
                    if (sweep_dir / extra).is_file():
                        parent.log_artifact(sweep_dir / extra)
            except Exception as err:  # the report failed; the runs are recorded all the same
                compared = False
                print(f"error: the sweep comparison failed: {type(err).__name__}: {err}", file=sys.stderr)
            parent.log_metrics({"jobs": len(records), "jobs_failed": len(failed)})
            parent.end("FAILED" if failed or not compared else "FINISHED")
            if not compared and not failed:
                raise SystemExit(1)
        if failed:
            for record in failed:
                overrides = " ".join(record.get("overrides", []))
                print(f"failed job {record['job']} ({overrides}): {record.get('error')}", file=sys.stderr)
            print(f"sweep: {len(failed)} of {len(records)} job(s) failed", file=sys.stderr)
            raise SystemExit(1)
