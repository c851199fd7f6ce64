"""Reading runs back from the store, and the short records a sweep keeps on it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.core.config import PathsConfig, TrackingConfig
from pipeline.tracking.owner import DIED, PROCESS_TAG, end_dead_runs_in, is_dead, owner_tags
from pipeline.tracking.recorder import PARENT_TAG, RUN_STATUS_TAG, RunRecorder
from pipeline.tracking.store import (
    http_settings,
    mlflow_client,
    open_experiment,
    quiet_environment,
    resolve_tracking_uri,
)

SWEEP_TAG = "sweep_name"


@dataclass(frozen=True)
class RunSummary:
    """What the comparison needs of one run, read back from the store."""

    run_id: str
    name: str
    status: str  # MLflow's: FINISHED, FAILED, KILLED, RUNNING
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    start_time: int


def _summary(run: Any) -> RunSummary:
    return RunSummary(
        run_id=run.info.run_id,
        name=run.info.run_name or run.info.run_id[:8],
        status=run.info.status,
        params=dict(run.data.params),
        metrics=dict(run.data.metrics),
        tags=dict(run.data.tags),
        start_time=int(run.info.start_time or 0),
    )


def _client(tracking: TrackingConfig, paths: PathsConfig) -> Any:
    quiet_environment()
    http_settings(tracking, recording=True)
    return mlflow_client(resolve_tracking_uri(tracking, paths))


def start_sweep_run(tracking: TrackingConfig, paths: PathsConfig, name: str, tags: Mapping[str, Any]) -> str:
    """Create the experiment (once, before parallel jobs race on it) and a sweep's parent run."""
    _, client, experiment_id = open_experiment(tracking, paths)
    tags = {**owner_tags(), SWEEP_TAG: tracking.sweep_name, **tags}
    run = client.create_run(experiment_id, run_name=name, tags=tags)
    return str(run.info.run_id)


def resume_run(tracking: TrackingConfig, paths: PathsConfig, run_id: str) -> RunRecorder:
    """A recorder for an existing run (a sweep's parent) without changing its status."""
    client = _client(tracking, paths)
    run = client.get_run(run_id)
    return RunRecorder(client, resolve_tracking_uri(tracking, paths), run_id, run.info.experiment_id)


def record_failed_job(
    tracking: TrackingConfig,
    paths: PathsConfig,
    parent_id: str,
    name: str,
    params: Mapping[str, str],
    error: str,
) -> str:
    """A FAILED child run for a sweep job that failed before it could start its own run."""
    parent = resume_run(tracking, paths, parent_id)
    run = parent.client.create_run(
        parent.experiment_id,
        run_name=name,
        tags={**owner_tags(), PARENT_TAG: parent_id, RUN_STATUS_TAG: "failed", "error": error[:5000]},
    )
    recorder = RunRecorder(parent.client, parent.uri, run.info.run_id, parent.experiment_id)
    recorder.log_params(params)
    recorder.end("FAILED")
    return str(run.info.run_id)


def end_as_failed(tracking: TrackingConfig, paths: PathsConfig, run: RunSummary, reason: str) -> RunSummary:
    """Mark a run that was left RUNNING as FAILED with `reason`; its summary as it is now."""
    recorder = resume_run(tracking, paths, run.run_id)
    recorder.set_tags({RUN_STATUS_TAG: "failed", "error": reason})
    recorder.end("FAILED")
    tags = {**run.tags, RUN_STATUS_TAG: "failed", "error": reason}
    return RunSummary(run.run_id, run.name, "FAILED", run.params, run.metrics, tags, run.start_time)


def end_dead_runs(tracking: TrackingConfig, paths: PathsConfig, runs: list[RunSummary]) -> list[RunSummary]:
    """`runs`, with each one left RUNNING by a process of this host that has ended marked
    FAILED, its note saying so (runs of other hosts are left as they are)."""
    return [
        end_as_failed(tracking, paths, r, DIED.format(process=r.tags[PROCESS_TAG]))
        if r.status == "RUNNING" and is_dead(r.tags.get(PROCESS_TAG))
        else r
        for r in runs
    ]


def end_dead_runs_of_experiment(tracking: TrackingConfig, paths: PathsConfig) -> list[tuple[str, str, str]]:
    """End FAILED the configured experiment's runs that processes of this host left RUNNING
    when they died, saying so in one line on stderr (pipeline.tracking.owner.end_dead_runs_in);
    (name, id, process) of each run so ended."""
    client = _client(tracking, paths)
    experiment = client.get_experiment_by_name(tracking.experiment)
    return end_dead_runs_in(client, experiment.experiment_id) if experiment is not None else []


def find_runs(
    tracking: TrackingConfig, paths: PathsConfig, filter_string: str = "", max_results: int = 5000
) -> list[RunSummary]:
    """Runs of the configured experiment matching an MLflow filter, oldest first."""
    client = _client(tracking, paths)
    experiment = client.get_experiment_by_name(tracking.experiment)
    if experiment is None:
        return []
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string=filter_string,
        max_results=max_results,
        order_by=["attributes.start_time ASC"],
    )
    return [_summary(r) for r in runs]


def run_summary(tracking: TrackingConfig, paths: PathsConfig, run_id: str) -> RunSummary:
    """One run, by id."""
    return _summary(_client(tracking, paths).get_run(run_id))


def sweep_children(tracking: TrackingConfig, paths: PathsConfig, parent_id: str) -> list[RunSummary]:
    """The child runs of a sweep's parent run, oldest first."""
    return find_runs(tracking, paths, f"tags.`{PARENT_TAG}` = '{parent_id}'")


def latest_sweep(
    tracking: TrackingConfig, paths: PathsConfig, sweep_name: str | None = None
) -> RunSummary | None:
    """The most recent sweep parent run, of one preset when `sweep_name` is given."""
    query = f"tags.{SWEEP_TAG} = '{sweep_name}'" if sweep_name else f"tags.{SWEEP_TAG} != ''"
    parents = find_runs(tracking, paths, query)
    return parents[-1] if parents else None


def metric_history(
    tracking: TrackingConfig, paths: PathsConfig, run_id: str, key: str
) -> list[tuple[int, float]]:
    """(step, value) of one metric of one run, by step."""
    history = _client(tracking, paths).get_metric_history(run_id, key)
    return sorted((m.step, m.value) for m in history)
