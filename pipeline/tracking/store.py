"""Where runs are recorded: the tracking URI, the store's first opening, the experiment.

Runs are addressed by id through an `MlflowClient`, so no global "active run" leaks
between jobs that share a process (Hydra's joblib launcher reuses workers).
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.core.config import PathsConfig, TrackingConfig
from pipeline.core.credentials import mask_credentials
from pipeline.core.errors import PipelineError
from pipeline.tracking.owner import end_dead_runs_in


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


def backoff_retries(grace_s: float) -> int:
    """The fewest retries whose waits add up to `grace_s`: with MLflow's backoff factor 1,
    urllib3 waits 0 s before the first retry, then 2, 4, 8 ... s (2**r - 2 s after r retries)."""
    retries, waited = 0, 0
    while waited < grace_s:
        retries += 1
        waited += 0 if retries == 1 else 2 ** (retries - 1)
    return retries


def http_settings(tracking: TrackingConfig, recording: bool = False) -> None:
    """Bound how long a tracking server may keep a run waiting (MLflow's default: minutes).
    Before anything is recorded a missing server fails fast (`http_retries`); once `recording`,
    requests are retried for `outage_grace_s`, so a server restart loses nothing."""
    retries = tracking.http_retries
    if recording:
        retries = max(retries, backoff_retries(tracking.outage_grace_s))
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(tracking.http_timeout_s)
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = str(retries)
    os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] = "1"


@contextmanager
def few_retries(retries: int = 1) -> Iterator[None]:
    """Within the block, at most `retries` per request: for ending a run whose recording
    already failed, where waiting out the grace period again would only delay the error."""
    previous = os.environ.get("MLFLOW_HTTP_REQUEST_MAX_RETRIES")
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = str(min(retries, int(previous or retries)))
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_HTTP_REQUEST_MAX_RETRIES", None)
        else:
            os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = previous


class RetryCount(logging.Handler):
    """Counts the retries of requests to the tracking server while installed (urllib3 logs
    each one as a warning on `urllib3.connectionpool`): a run that waited out an outage says so."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.retries = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("Retrying"):
            self.retries += 1

    @contextmanager
    def installed(self) -> Iterator[RetryCount]:
        logger = logging.getLogger("urllib3.connectionpool")
        logger.addHandler(self)
        try:
            yield self
        finally:
            logger.removeHandler(self)


def quiet_environment() -> None:
    """No telemetry leaves the machine, and MLflow prints no `View run ... at: URL` lines (a
    run ends with the project's own line, its URI's credentials masked: `run_location`);
    called when a run starts, never at import."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    logging.getLogger("mlflow.utils.environment").setLevel(logging.ERROR)
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def reach(uri: str, call: Callable[[], str]) -> str:
    """The first call to the store. A server that refuses the credentials (HTTP 401 or 403)
    or cannot be reached becomes one PipelineError naming the server and the HTTP status
    (credentials in a URI from the environment masked)."""
    try:
        return call()
    except Exception as err:
        if not uri.startswith(("http://", "https://")):
            raise
        status = getattr(err, "get_http_status_code", lambda: None)()
        shown = mask_credentials(uri)
        if status in (401, 403):
            raise PipelineError(refused(shown, status)) from None
        reason = mask_credentials(str(err).splitlines()[0][:300])
        raise PipelineError(
            f"tracking server {shown} is unreachable ({type(err).__name__}: {reason}); start it, or "
            "point tracking.uri elsewhere (tracking.http_timeout_s and tracking.http_retries bound the wait)"
        ) from None


def refused(uri: str, status: int) -> str:
    """What a user reads when the server says no: the server, the status, whose credentials."""
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    who = f"user {user!r}" if user else "no user (MLFLOW_TRACKING_USERNAME is not set)"
    if status == 401:
        return (
            f"tracking server {uri} refused the credentials of {who} (HTTP 401 Unauthorized); "
            "set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD to an account of that server"
        )
    return (
        f"tracking server {uri} denied {who} access to the experiment (HTTP 403 Forbidden); "
        "ask its admin for EDIT permission, or choose another with tracking.experiment=NAME"
    )


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
    """Serialize opening a local SQLite store across processes. MLflow creates and migrates a
    new database on first use, and processes doing that at once make each other crash
    (alembic: 'Online migration expected to match one row'), losing their runs."""
    if not uri.startswith("sqlite:///"):
        yield
        return
    database = Path(uri.removeprefix("sqlite:///"))
    database.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{database}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def mlflow_client(uri: str) -> Any:
    """MLflow's client for `uri` (MLflow keeps one store per URI and process)."""
    from mlflow import MlflowClient

    return MlflowClient(uri)


def open_experiment(
    tracking: TrackingConfig, paths: PathsConfig, lookup: bool = True
) -> tuple[str, Any, str | None]:
    """The tracking URI, a client and (with `lookup`) the experiment's id; the store and the
    experiment are created when missing, one process at a time, and the experiment's runs
    left RUNNING by dead processes of this host are ended FAILED, saying so on stderr
    (pipeline.tracking.owner.end_dead_runs_in). An unreachable server is one PipelineError
    naming it."""
    quiet_environment()
    http_settings(tracking, recording=not lookup)
    uri = resolve_tracking_uri(tracking, paths)
    with store_lock(uri):
        client = mlflow_client(uri)
        if not lookup:
            return uri, client, None
        location = artifact_location(uri, paths)
        experiment_id = reach(uri, lambda: experiment_id_for(client, tracking.experiment, location))
    end_dead_runs_in(client, experiment_id)
    http_settings(tracking, recording=True)
    return uri, client, experiment_id


def experiment_id_for(client: Any, name: str, location: str | None = None) -> str:
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


def run_location(tracking: TrackingConfig, paths: PathsConfig, run_name: str, run_id: str | None) -> str:
    """One line that finds a run: its name and id, its experiment and the tracking URI
    (credentials masked); or that tracking is off."""
    if run_id is None:
        return "mlflow: not recorded (tracking.enabled=false)"
    uri = mask_credentials(resolve_tracking_uri(tracking, paths))
    return f"mlflow: run {run_name} {run_id} in experiment {tracking.experiment!r} at {uri}"
