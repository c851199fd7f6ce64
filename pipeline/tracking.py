"""Everything that touches MLflow, with pipeline.recorder. No other module imports mlflow.

Runs are addressed by id through an `MlflowClient`, so no global "active run" leaks
between jobs that share a process (Hydra's joblib launcher reuses workers).
"""

from __future__ import annotations

import fcntl
import functools
import logging
import os
import signal
import subprocess
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config import PathsConfig, TrackingConfig
from pipeline.errors import PipelineError
from pipeline.recorder import RUN_STATUS_TAG, RunRecorder, mlflow_client, start_helper


def project_root(cwd: Path | None = None) -> Path:
    """The repository root; a DVC queue job runs in `<root>/.dvc/tmp/exps/...` and maps back."""
    cwd = (cwd or Path.cwd()).resolve()
    parts = cwd.parts
    for index in range(len(parts) - 2):
        if parts[index : index + 3] == (".dvc", "tmp", "exps"):
            return Path(*parts[:index])
    return cwd


def resolve_tracking_uri(tracking: TrackingConfig, paths: PathsConfig, root: Path | None = None) -> str:
    """`tracking.uri`, else $MLFLOW_TRACKING_URI, else an absolute SQLite URI at the root."""
    if tracking.uri:
        return tracking.uri
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    db = Path(paths.mlflow_db)
    db = db if db.is_absolute() else (root or project_root()) / db
    return f"sqlite:///{db.resolve()}"


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an interrupt so the run ends KILLED instead of staying RUNNING."""


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated(f"terminated by signal {signum}")


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises Terminated (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def http_settings(tracking: TrackingConfig) -> None:
    """Bound how long a tracking server may keep a run waiting (MLflow's default: minutes)."""
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(tracking.http_timeout_s)
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = str(tracking.http_retries)
    os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] = "1"


def quiet_environment() -> None:
    """No telemetry leaves the machine; called when a run starts, never at import."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow.utils.environment").setLevel(logging.ERROR)
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


@functools.lru_cache(maxsize=8)
def git_commit(cwd: Path | None = None) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def reach(uri: str, call: Callable[[], str]) -> str:
    """The first call to the store; an unreachable server becomes one PipelineError naming it."""
    try:
        return call()
    except Exception as err:
        if not uri.startswith(("http://", "https://")):
            raise
        reason = str(err).splitlines()[0][:300]
        raise PipelineError(
            f"tracking server {uri} is unreachable ({type(err).__name__}: {reason}); start it, or "
            "point tracking.uri elsewhere (tracking.http_timeout_s and tracking.http_retries bound the wait)"
        ) from None


def artifact_location(uri: str, paths: PathsConfig, root: Path | None = None) -> str | None:
    """Where a new experiment keeps artifacts: `paths.mlflow_artifacts` under the project root
    for a local store (MLflow's default, ./mlruns of whatever folder the process runs in, would
    put them in DVC's temporary queue folders); the server's own choice for a tracking server."""
    if not uri.startswith("sqlite:"):
        return None
    folder = Path(paths.mlflow_artifacts)
    folder = folder if folder.is_absolute() else (root or project_root()) / folder
    return folder.resolve().as_uri()


@contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """Serialize the first access to a local SQLite store across processes. MLflow creates and
    migrates a new database on first use, and processes doing that at once make each other
    crash (alembic: 'Online migration expected to match one row'), losing their runs.

    A store this process has opened once exists: it is not locked again. (In a sweep a
    helper, at low priority, may hold the lock while it opens the store; each job waited
    for it, up to 0.65 s.)"""
    if not uri.startswith("sqlite:///") or uri in _opened_stores:
        yield
        return
    database = Path(uri.removeprefix("sqlite:///"))
    database.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{database}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
            _opened_stores.add(uri)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


_opened_stores: set[str] = set()  # local stores this process opened under store_lock


def _experiment_id(client: Any, name: str, location: str | None = None) -> str:
    """Get or create the experiment; tolerate another process creating it at the same time."""
    for _ in range(5):
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            return str(experiment.experiment_id)
        try:
            return str(client.create_experiment(name, artifact_location=location))
        except Exception:  # noqa: BLE001 (a concurrent creator won; look it up again)
            time.sleep(0.2)
    raise RuntimeError(f"could not get or create MLflow experiment {name!r}")


@contextmanager
def tracked_run(
    tracking: TrackingConfig,
    paths: PathsConfig,
    run_name: str | None = None,
    run_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
    parent_run_id: str | None = None,
) -> Iterator[RunRecorder | None]:
    """Start (or resume, with `run_id`) an MLflow run and end it with the status that is true.

    Success: FINISHED, unless the recorder's `status` was changed (a diverged run is FAILED).
    An exception: FAILED, with the error as a tag and a traceback artifact. Ctrl-C: KILLED.
    Yields None when tracking is switched off.
    """
    if not tracking.enabled:
        start_helper(None)  # the drawing helper starts up meanwhile
        yield None
        return
    quiet_environment()
    http_settings(tracking)
    uri = resolve_tracking_uri(tracking, paths)
    start_helper(uri)  # the recording helper starts up meanwhile
    with store_lock(uri):  # MlflowClient opens (and, the first time, creates) the store
        client = mlflow_client(uri)
        experiment_id = (
            reach(uri, lambda: _experiment_id(client, tracking.experiment, artifact_location(uri, paths)))
            if run_id is None
            else None
        )
    if run_id is None:
        tags = {**(tags or {}), **({PARENT_TAG: parent_run_id} if parent_run_id else {})}
        run = client.create_run(experiment_id, run_name=run_name, tags=tags)
    else:
        run = client.get_run(run_id)
        client.update_run(run_id, status="RUNNING")
    recorder = RunRecorder(uri, run.info.run_id, run.info.experiment_id)
    try:
        with sigterm_as_interrupt():
            yield recorder
    except KeyboardInterrupt:
        recorder.set_tags({RUN_STATUS_TAG: "killed"})
        recorder.end("KILLED")
        raise
    except BaseException as err:
        err.mlflow_run_id = recorder.run_id  # type: ignore[attr-defined]  # for the job's record
        recorder.set_tags({RUN_STATUS_TAG: "failed", "error": f"{type(err).__name__}: {err}"[:5000]})
        recorder.log_text(traceback.format_exc(), "error.txt")
        recorder.end("FAILED")
        raise
    else:
        try:
            recorder.end(recorder.status)  # a recording error ends the run FAILED, then raises
        except BaseException as err:
            err.mlflow_run_id = recorder.run_id  # type: ignore[attr-defined]  # no second FAILED run
            raise


PARENT_TAG = "mlflow.parentRunId"
SWEEP_TAG = "sweep_name"


def start_sweep_run(tracking: TrackingConfig, paths: PathsConfig, name: str, tags: Mapping[str, Any]) -> str:
    """Create the experiment (once, before parallel jobs race on it) and a sweep's parent run."""
    quiet_environment()
    uri = resolve_tracking_uri(tracking, paths)
    with store_lock(uri):
        client = mlflow_client(uri)
        experiment_id = _experiment_id(client, tracking.experiment, artifact_location(uri, paths))
    run = client.create_run(experiment_id, run_name=name, tags={SWEEP_TAG: tracking.sweep_name, **tags})
    return str(run.info.run_id)


def record_failed_job(
    tracking: TrackingConfig,
    paths: PathsConfig,
    parent_id: str,
    name: str,
    params: Mapping[str, str],
    error: str,
) -> str:
    """A FAILED child run for a sweep job that failed before it could start its own run."""
    client = _client(tracking, paths)
    parent = client.get_run(parent_id)
    run = client.create_run(
        parent.info.experiment_id,
        run_name=name,
        tags={PARENT_TAG: parent_id, RUN_STATUS_TAG: "failed", "error": error[:5000]},
    )
    uri = resolve_tracking_uri(tracking, paths)
    recorder = RunRecorder(uri, run.info.run_id, parent.info.experiment_id, inline=True)
    recorder.log_params(params)
    recorder.end("FAILED")
    return str(run.info.run_id)


def resume_run(tracking: TrackingConfig, paths: PathsConfig, run_id: str) -> RunRecorder:
    """A recorder for an existing run (a sweep's parent) without changing its status."""
    quiet_environment()
    run = _client(tracking, paths).get_run(run_id)
    return RunRecorder(resolve_tracking_uri(tracking, paths), run_id, run.info.experiment_id, inline=True)


def _client(tracking: TrackingConfig, paths: PathsConfig) -> Any:
    return mlflow_client(resolve_tracking_uri(tracking, paths))


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
        tags={k: v for k, v in run.data.tags.items()},
        start_time=int(run.info.start_time or 0),
    )


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


def sweep_children(tracking: TrackingConfig, paths: PathsConfig, parent_id: str) -> list[RunSummary]:
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
    history = _client(tracking, paths).get_metric_history(run_id, key)
    return sorted((m.step, m.value) for m in history)
