"""Hydra callback for multiruns: one MLflow parent run per sweep, the comparison at the end.

Configured in conf/config.yaml (`hydra.callbacks.sweep`). At the start it creates the
store, the experiment and the parent run once, before parallel jobs could race on them,
and prepares the data the sweep's base configuration needs, once. Hydra ships this
callback to every job (the Ray launcher pickles it to other machines), so `on_job_start`
hands the parent's id to the job wherever it runs, and `on_job_end` records a job that
failed before it could start its own run as a FAILED child. At the end it compares the
children read back from MLflow (a job on another machine leaves nothing on this disk),
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

from pipeline.core.config import PathsConfig, TrackingConfig, validate_config
from pipeline.core.credentials import credentials_error
from pipeline.core.errors import PipelineError
from pipeline.core.files import COMPARISON_DIR, JOB_FILE, UNSENT_FILE
from pipeline.core.io import read_json, write_json
from pipeline.core.quiet import quiet_optuna
from pipeline.data.cache import ensure_prepared
from pipeline.experiments.run import JOBS_ENV, ON_INTERRUPT, PARENT_ENV, log_late_pictures
from pipeline.reports.comparison import compare_runs
from pipeline.tracking.queries import (
    RunSummary,
    end_as_failed,
    record_failed_job,
    resume_run,
    start_sweep_run,
    sweep_children,
)
from pipeline.tracking.recorder import RUN_STATUS_TAG
from pipeline.tracking.spool import UPLOAD_COMMAND

FAILED_STATUSES = ("failed", "killed")
UNFINISHED = "the job's process ended without ending its run"


def job_records(sweep_dir: Path) -> list[dict[str, Any]]:
    """The `job.json` each job of the sweep wrote, in job order."""
    paths = sorted(sweep_dir.glob(f"*/{JOB_FILE}"), key=lambda p: (len(p.parent.name), p.parent.name))
    return [{"job": p.parent.name, **json.loads(p.read_text(encoding="utf-8"))} for p in paths]


def failed_children(runs: list[RunSummary], records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Failed jobs: their `job.json` here, or only their MLflow run when they ran elsewhere."""
    failed = [r for r in records if r.get("status") == "failed"]
    known = {r.get("run_id") for r in failed}
    for run in runs:
        if run.tags.get(RUN_STATUS_TAG) in FAILED_STATUSES and run.run_id not in known:
            failed.append(
                {"job": run.name, "run_id": run.run_id, "error": run.tags.get("error"), "overrides": []}
            )
    return failed


def end_unfinished(tracking: TrackingConfig, paths: PathsConfig, runs: list[RunSummary]) -> list[RunSummary]:
    """Children still RUNNING once every job is done (their process died before it ended
    them) are marked FAILED, with the reason, and returned as such."""
    return [end_as_failed(tracking, paths, r, UNFINISHED) if r.status == "RUNNING" else r for r in runs]


def remote_tracking_error(launcher_target: str, tracking: TrackingConfig) -> str | None:
    """Jobs on other machines can only record to a tracking server, never to this machine's file."""
    if "RayLauncher" not in launcher_target or not tracking.enabled:
        return None
    if tracking.uri and tracking.uri.startswith(("http://", "https://")):
        return None
    return (
        f"tracking.uri is {tracking.uri or 'unset (the local mlflow.db)'}; jobs on a Ray cluster "
        "record to a tracking server: set tracking.uri=http://HOST:PORT (mlflow server --serve-artifacts)"
    )


def prepare_base_data(config: DictConfig) -> None:
    """Prepare the base configuration's data before any job starts (jobs on other machines
    receive it with the project folder). Best effort: a sweep may fill in what makes the
    base configuration valid, and each job reports its own data errors."""
    try:
        cfg = validate_config(OmegaConf.to_container(config, resolve=True), "conf/ (Hydra)")
        ensure_prepared(cfg.dataset, cfg.split, cfg.paths)
    except Exception:  # noqa: BLE001 - the jobs prepare (or fail) on their own
        return


def sweep_size(config: DictConfig) -> int | None:
    """How many jobs the sweep runs: the Optuna sweeper's `n_trials`, or the product of
    the value counts of the swept keys (the preset's `hydra.sweeper.params`, then the
    command line's); None when it cannot be told."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    sweeper = OmegaConf.select(config, "hydra.sweeper", default=None)
    if sweeper is None:
        return None
    if "optuna" in str(sweeper.get("_target_", "")).lower():
        return int(sweeper.n_trials)
    params = sweeper.get("params") or {}
    swept = [f"{key}={value}" for key, value in params.items()]
    counts: dict[str, int] = {}
    try:
        for override in OverridesParser.create().parse_overrides([*swept, *config.hydra.overrides.task]):
            is_sweep = override.is_sweep_override()
            counts[override.key_or_group] = len(list(override.sweep_string_iterator())) if is_sweep else 1
    except Exception:  # noqa: BLE001 - a sweep form this count does not know (interval, glob)
        return None
    total = 1
    for count in counts.values():
        total *= count
    return total


def override_params(overrides: list[str]) -> dict[str, str]:
    """`key=value` overrides as params (a leading + or ~ dropped)."""
    pairs = (o.lstrip("+~").split("=", 1) for o in overrides if "=" in o)
    return {key: value for key, value in pairs}


def report_failed(failed: list[dict[str, Any]], jobs: int) -> None:
    """A line per failed job (its overrides and error), then how many failed."""
    for record in failed:
        overrides = " ".join(record.get("overrides", []))
        print(f"failed job {record['job']} ({overrides}): {record.get('error')}", file=sys.stderr)
    if failed:
        print(f"sweep: {len(failed)} of {jobs} job(s) failed", file=sys.stderr)


def unreachable_at_end(uri: str | None, err: Exception, sweep_dir: Path) -> str:
    """The sweep's last line when its store is gone at the end: which store, why, where the
    jobs' outputs are, and the command that sends the records its jobs kept."""
    reason = " ".join(str(err).split())[:300]
    store = f"tracking server {uri}" if uri else "the local MLflow store"
    line = (
        f"the sweep could not reach {store} at its end ({type(err).__name__}: {reason}); "
        f"each job's outputs are in {sweep_dir}/<job>/"
    )
    kept = len(list(sweep_dir.rglob(UNSENT_FILE)))
    if kept:
        line += f"; {kept} job(s) kept their record: send them once it is back: {UPLOAD_COMMAND} {sweep_dir}"
    return line


def refuse_credentials(config: DictConfig) -> None:
    """One line and exit 2 when the composed `tracking.uri` (from conf/, a preset or the
    command line) holds credentials: called before Hydra writes its output folder."""
    uri = OmegaConf.select(config, "tracking.uri", default=None, throw_on_resolution_failure=False)
    refused = credentials_error(uri if isinstance(uri, str) else None)
    if refused:
        print(f"error: {refused}", file=sys.stderr)
        raise SystemExit(2)


class SweepCallback(Callback):
    def __init__(self) -> None:
        self.settings: tuple[TrackingConfig, PathsConfig, str] | None = None
        self.parent_id: str | None = None
        self.parent_name = ""
        self.jobs: int | None = None

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        refuse_credentials(config)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        refuse_credentials(config)
        # Only tracking and paths are needed here: other keys may be filled in by the sweep.
        try:
            tracking = TrackingConfig.model_validate(OmegaConf.to_container(config.tracking, resolve=True))
            paths = PathsConfig.model_validate(OmegaConf.to_container(config.paths, resolve=True))
        except ValidationError as err:
            print(f"error: conf/: invalid tracking or paths configuration: {err}", file=sys.stderr)
            raise SystemExit(2) from None
        remote_error = remote_tracking_error(
            str(OmegaConf.select(config, "hydra.launcher._target_")), tracking
        )
        if remote_error:
            print(f"error: conf/ (Hydra): {remote_error}", file=sys.stderr)
            raise SystemExit(2)
        cv = OmegaConf.select(config, "training.cv_folds", default=0) or 0
        metric = "cv_val_mse_mean" if cv >= 2 else "validation_mse_scaled"
        self.settings = (tracking, paths, metric)
        if "optuna" in str(OmegaConf.select(config, "hydra.sweeper._target_", default="")).lower():
            quiet_optuna()  # before the sweeper creates its study
        self.jobs = sweep_size(config)
        if self.jobs is not None:
            os.environ[JOBS_ENV] = str(self.jobs)
        if not tracking.enabled:
            return
        name = f"{tracking.sweep_name}-{datetime.now():%Y%m%d-%H%M%S}"
        tags = {
            "sweep_dir": str(Path(config.hydra.sweep.dir).resolve()),
            "sweep_overrides": " ".join(config.hydra.overrides.task),
        }
        try:
            self.parent_id = start_sweep_run(tracking, paths, name, tags)
        except PipelineError as err:  # a server that refuses or is not there: no job would record
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(2) from None
        os.environ[PARENT_ENV] = self.parent_id
        self.parent_name = name
        ON_INTERRUPT["sweep"] = self.end_interrupted
        print(f"sweep: MLflow parent run {name} ({self.parent_id})")
        prepare_base_data(config)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        # In the job's own process, which may be on another machine (Ray): no shared environment.
        if self.parent_id is not None:
            os.environ[PARENT_ENV] = self.parent_id
        if self.jobs is not None:
            os.environ[JOBS_ENV] = str(self.jobs)

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        """A job that failed before starting its run gets a FAILED child, recorded from where it ran."""
        if self.settings is None or self.parent_id is None or not self.settings[0].enabled:
            return
        record_file = Path(config.hydra.runtime.output_dir) / JOB_FILE
        if not record_file.is_file():
            return
        record = read_json(record_file)
        if record.get("status") != "failed" or record.get("run_id"):
            return
        try:
            write_json(record_file, self.record_failure(record, str(config.hydra.job.num)))
        except Exception as err:  # noqa: BLE001 - the sweep's end tries again from job.json
            print(f"error: could not record failed job {config.hydra.job.num}: {err}", file=sys.stderr)

    def record_failure(self, record: dict[str, Any], job: str) -> dict[str, Any]:
        """`record` with the id of a new FAILED child run that holds its overrides and error."""
        assert self.settings is not None and self.parent_id is not None
        tracking, paths, _ = self.settings
        run_id = record_failed_job(
            tracking,
            paths,
            self.parent_id,
            f"job{job}-failed",
            override_params(record.get("overrides", [])),
            str(record.get("error")),
        )
        return record | {"run_id": run_id}

    def end_interrupted(self) -> str | None:
        """Ctrl-C or SIGTERM ended the sweep: its parent run ends KILLED, like the job it
        stopped; a note naming it (None without one)."""
        if self.settings is None or self.parent_id is None:
            return None
        parent = resume_run(self.settings[0], self.settings[1], self.parent_id)
        parent.set_tags({RUN_STATUS_TAG: "killed"})
        parent.end("KILLED")
        return f"the sweep's parent run {self.parent_name} ({self.parent_id}) marked KILLED"

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        log_late_pictures()  # the jobs' own pictures go into their runs before the parent ends
        ON_INTERRUPT.pop("sweep", None)
        os.environ.pop(PARENT_ENV, None)
        os.environ.pop(JOBS_ENV, None)
        sweep_dir = Path(config.hydra.sweep.dir)
        records = job_records(sweep_dir)
        failed = [r for r in records if r.get("status") == "failed"]
        jobs = len(records)
        compared = True
        if self.settings is not None and self.parent_id is not None:
            tracking, paths, metric = self.settings
            try:
                failed = [r if r.get("run_id") else self.record_failure(r, r["job"]) for r in failed]
                parent = resume_run(tracking, paths, self.parent_id)
            except Exception as err:  # the server is gone: say so, and where the jobs' outputs are
                report_failed(failed, jobs)
                print(f"error: {unreachable_at_end(tracking.uri, err, sweep_dir)}", file=sys.stderr)
                raise SystemExit(1) from None
            try:
                runs = end_unfinished(tracking, paths, sweep_children(tracking, paths, self.parent_id))
                failed = failed_children(runs, failed)
                jobs = max(jobs, len(runs))
                if runs:
                    report_dir = sweep_dir / COMPARISON_DIR
                    compare_runs(tracking, paths, runs, report_dir, metric, tracking.sweep_name)
                    parent.log_artifacts(report_dir, COMPARISON_DIR)
                for extra in ("optimization_results.yaml", "multirun.yaml"):
                    if (sweep_dir / extra).is_file():
                        parent.log_artifact(sweep_dir / extra)
            except Exception as err:  # the report failed; the runs are recorded all the same
                compared = False
                print(f"error: the sweep comparison failed: {type(err).__name__}: {err}", file=sys.stderr)
            parent.log_metrics({"jobs": jobs, "jobs_failed": len(failed)})
            parent.end("FAILED" if failed or not compared else "FINISHED")
        if failed:
            report_failed(failed, jobs)
            raise SystemExit(1)
        if not compared:
            raise SystemExit(1)
