"""A sweep's begin and end, shared by the CLI's callback (pipeline.experiments.sweep) and
`pipeline.api.sweep`: the parent run created once, a job that failed before its run recorded
as a FAILED child, and at the end the children read back from MLflow (a job on another
machine leaves nothing on this disk), compared, the report logged on the parent and the
parent closed with the true status.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.core.config import PathsConfig, TrackingConfig
from pipeline.core.errors import PipelineError
from pipeline.core.files import COMPARISON_DIR, JOB_FILE, UNSENT_FILE
from pipeline.core.io import read_json, write_json
from pipeline.experiments.sweep_state import SweepState
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
EXTRA_FILES = ("optimization_results.yaml", "multirun.yaml")  # Hydra's, logged on the parent


def sweep_metric(cv_folds: int | None) -> str:
    """What the comparison ranks by: the cross-validated MSE with folds, else the validation MSE
    (a classifier's counterpart is chosen by the comparison)."""
    return "cv_val_mse_mean" if (cv_folds or 0) >= 2 else "validation_mse_scaled"


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


def begin_sweep(
    state: SweepState,
    tracking: TrackingConfig,
    paths: PathsConfig,
    metric: str,
    sweep_dir: Path,
    overrides: list[str],
) -> None:
    """Set the sweep's settings on `state` and, with tracking on, create the store, the
    experiment and the parent run (once, before parallel jobs could race on them), print its
    line, and have an interrupt end it KILLED. Raises PipelineError when the store refuses or
    is not there (no job could record)."""
    state.settings = (tracking, paths, metric)
    if not tracking.enabled:
        return
    name = f"{tracking.sweep_name}-{datetime.now():%Y%m%d-%H%M%S}"
    tags = {"sweep_dir": str(sweep_dir.resolve()), "sweep_overrides": " ".join(overrides)}
    state.parent_run_id = start_sweep_run(tracking, paths, name, tags)
    state.parent_name = name
    state.on_interrupt["sweep"] = lambda: end_interrupted(state)
    print(f"sweep: MLflow parent run {name} ({state.parent_run_id})")


def end_interrupted(state: SweepState) -> str | None:
    """Ctrl-C or SIGTERM ended the sweep: its parent run ends KILLED, like the job it
    stopped; a note naming it (None without one)."""
    if state.settings is None or state.parent_run_id is None:
        return None
    parent = resume_run(state.settings[0], state.settings[1], state.parent_run_id)
    parent.set_tags({RUN_STATUS_TAG: "killed"})
    parent.end("KILLED")
    return f"the sweep's parent run {state.parent_name} ({state.parent_run_id}) marked KILLED"


def record_failure(state: SweepState, record: dict[str, Any], job: str) -> dict[str, Any]:
    """`record` with the id of a new FAILED child run that holds its overrides and error."""
    assert state.settings is not None and state.parent_run_id is not None
    tracking, paths, _ = state.settings
    run_id = record_failed_job(
        tracking,
        paths,
        state.parent_run_id,
        f"job{job}-failed",
        override_params(record.get("overrides", [])),
        str(record.get("error")),
    )
    return record | {"run_id": run_id}


def record_early_failure(state: SweepState, out_dir: Path, job: str) -> None:
    """A job that failed before starting its run gets a FAILED child, recorded from where it
    ran; its `job.json` gets the child's id. A store that fails here is one `error:` line:
    the sweep's end tries again from job.json."""
    if state.settings is None or state.parent_run_id is None or not state.settings[0].enabled:
        return
    record_file = out_dir / JOB_FILE
    if not record_file.is_file():
        return
    record = read_json(record_file)
    if record.get("status") != "failed" or record.get("run_id"):
        return
    try:
        write_json(record_file, record_failure(state, record, job))
    except Exception as err:  # noqa: BLE001 - the sweep's end tries again from job.json
        print(f"error: could not record failed job {job}: {err}", file=sys.stderr)


@dataclass
class SweepEnd:
    """How a sweep ended: its failed jobs, how many jobs ran, whether the comparison was
    written, the comparison's table (empty without one), the children read back and the
    parent run's id (None without tracking)."""

    failed: list[dict[str, Any]]
    jobs: int
    parent_run_id: str | None = None
    compared: bool = True
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    runs: list[RunSummary] = field(default_factory=list)


def end_sweep(state: SweepState, sweep_dir: Path) -> SweepEnd:
    """Log the jobs' late pictures, compare the children into `sweep_dir/comparison/`, log it
    (and Hydra's files) on the parent run and end it FINISHED, or FAILED when a job failed or
    the comparison did; forget the sweep on `state`. Raises PipelineError, after the failed
    jobs' lines, when the store is gone at the end."""
    state.log_late_pictures()  # the jobs' own pictures go into their runs before the parent ends
    state.on_interrupt.pop("sweep", None)
    records = job_records(sweep_dir)
    settings, parent_id = state.settings, state.parent_run_id
    end = SweepEnd([r for r in records if r.get("status") == "failed"], len(records), parent_id)
    state.finish()
    if settings is None or parent_id is None:
        return end
    tracking, paths, metric = settings
    recording = SweepState(parent_run_id=parent_id, settings=settings)
    try:
        end.failed = [r if r.get("run_id") else record_failure(recording, r, r["job"]) for r in end.failed]
        parent = resume_run(tracking, paths, parent_id)
    except Exception as err:  # the server is gone: say so, and where the jobs' outputs are
        report_failed(end.failed, end.jobs)
        raise PipelineError(unreachable_at_end(tracking.uri, err, sweep_dir)) from err
    try:
        end.runs = end_unfinished(tracking, paths, sweep_children(tracking, paths, parent_id))
        end.failed = failed_children(end.runs, end.failed)
        end.jobs = max(end.jobs, len(end.runs))
        if end.runs:
            report_dir = sweep_dir / COMPARISON_DIR
            end.table = compare_runs(tracking, paths, end.runs, report_dir, metric, tracking.sweep_name)
            parent.log_artifacts(report_dir, COMPARISON_DIR)
        for extra in EXTRA_FILES:
            if (sweep_dir / extra).is_file():
                parent.log_artifact(sweep_dir / extra)
    except Exception as err:  # noqa: BLE001 - the report failed; the runs are recorded all the same
        end.compared = False
        print(f"error: the sweep comparison failed: {type(err).__name__}: {err}", file=sys.stderr)
    parent.log_metrics({"jobs": end.jobs, "jobs_failed": len(end.failed)})
    parent.end("FAILED" if end.failed or not end.compared else "FINISHED")
    return end
