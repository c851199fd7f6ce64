"""Everything that touches MLflow. No other module imports mlflow.

Runs are addressed by id through an `MlflowClient`, so no global "active run" leaks
between jobs that share a process (Hydra's joblib launcher reuses workers).
"""

from __future__ import annotations

import fcntl
import functools
import logging
import math
import os
import queue
import signal
import subprocess
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from pipeline.config import PathsConfig, TrackingConfig
from pipeline.errors import PipelineError

PARAM_VALUE_LIMIT = 6000
BATCH_LIMIT = 1000  # MLflow's maximum metrics per log_batch
SEND_EVERY = 200  # queued metrics are sent in small batches, so most go out during training
FLUSH_EVERY_S = 10.0
RUN_STATUS_TAG = "run_status"  # finished | early_stopped | diverged | failed | killed


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


def pip_requirements() -> list[str]:
    """What the logged model needs, pinned to what trained it (no slow inference)."""
    names = ("mlflow", "keras", "tensorflow-cpu", "pandas", "numpy")
    pins = []
    for name in names:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return pins


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


class RunRecorder:
    """One MLflow run: params, batched metrics, tags, artifacts, the model.

    Every MLflow call runs, in order, on one background thread, so recording overlaps
    training and evaluation instead of adding to them (TensorFlow releases the GIL while
    a graph runs). `end()` waits for everything queued, then sets the run's status; a
    recording error is raised there, after the run is marked FAILED.
    """

    def __init__(self, uri: str, run_id: str, experiment_id: str) -> None:
        from mlflow import MlflowClient

        self.uri, self.run_id, self.experiment_id = uri, run_id, experiment_id
        self.client = MlflowClient(uri)
        self.status = "FINISHED"
        self._pending: list[Any] = []
        self._last_flush = time.monotonic()
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._errors: list[BaseException] = []
        self._worker = threading.Thread(target=self._work, name=f"mlflow-{run_id[:8]}", daemon=True)
        self._worker.start()

    def _work(self) -> None:
        while (task := self._queue.get()) is not None:
            try:
                if not self._errors:
                    task()
            except BaseException as err:  # noqa: BLE001 (reported by end())
                self._errors.append(err)

    def _submit(self, task: Callable[[], None]) -> None:
        self._queue.put(task)

    def drain(self) -> None:
        """Wait until every queued call has run; raise the first recording error."""
        done = threading.Event()
        self._queue.put(done.set)
        done.wait()
        if self._errors:
            raise self._errors[0]

    def log_params(self, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(k, str(v)[:PARAM_VALUE_LIMIT]) for k, v in params.items()]
        for start in range(0, len(items), 100):
            chunk = items[start : start + 100]
            self._submit(lambda chunk=chunk: self.client.log_batch(self.run_id, params=chunk))

    def log_metrics(self, metrics: Mapping[str, Any], step: int = 0) -> None:
        """Queue finite metrics (NaN and infinity are never written), sent in batches."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self._pending.extend(Metric(k, float(v), now, step) for k, v in metrics.items() if _finite(v))
        if time.monotonic() - self._last_flush > FLUSH_EVERY_S or len(self._pending) >= SEND_EVERY:
            self.flush()

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        for start in range(0, len(pending), BATCH_LIMIT):
            chunk = pending[start : start + BATCH_LIMIT]
            self._submit(lambda chunk=chunk: self.client.log_batch(self.run_id, metrics=chunk))
        self._last_flush = time.monotonic()

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        from mlflow.entities import RunTag

        items = [RunTag(k, str(v)) for k, v in tags.items() if v is not None]
        if items:
            self._submit(lambda: self.client.log_batch(self.run_id, tags=items))

    def log_text(self, text: str, artifact_file: str) -> None:
        self._submit(lambda: self.client.log_text(self.run_id, text, artifact_file))

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        self._submit(lambda: self.client.log_artifact(self.run_id, str(path), artifact_path))

    def log_training_data(self, frame: Any, name: str, source: str, target: str) -> None:
        """The training rows as an MLflow dataset input (name, digest, source)."""

        def task() -> None:
            import mlflow.data
            from mlflow.entities import DatasetInput, InputTag

            with warnings.catch_warnings():  # a local path matches two equivalent source types
                warnings.simplefilter("ignore", UserWarning)
                dataset = mlflow.data.from_pandas(frame, source=source, name=name, targets=target)
            tags = [InputTag("mlflow.data.context", "training")]
            self.client.log_inputs(
                self.run_id, datasets=[DatasetInput(dataset._to_mlflow_entity(), tags=tags)]
            )

        self._submit(task)

    def log_model(self, keras_file: Path, preprocessing_file: Path, raw_dtypes: Mapping[str, str]) -> None:
        """Log the raw-rows pyfunc model (the `.keras` network inside) and tag its `model_uri`."""
        self._submit(lambda: self._log_model(Path(keras_file), Path(preprocessing_file), dict(raw_dtypes)))

    def _log_model(self, keras_file: Path, preprocessing_file: Path, raw_dtypes: dict[str, str]) -> None:
        """Log the raw-rows pyfunc model (the `.keras` network inside) and tag its model URI."""
        import mlflow
        import mlflow.pyfunc
        from mlflow.models import ModelSignature
        from mlflow.types import ColSpec, Schema

        import pipeline

        def col_type(dtype: str) -> str:
            if dtype.startswith(("int", "uint")):
                return "long"
            if dtype.startswith("float"):
                return "double"
            if dtype == "bool":
                return "boolean"
            return "string"

        signature = ModelSignature(
            inputs=Schema([ColSpec(col_type(t), name) for name, t in raw_dtypes.items()]),
            outputs=Schema([ColSpec("double")]),
        )
        package_dir = Path(pipeline.__file__).parent
        mlflow.set_tracking_uri(self.uri)
        # pyfunc.log_model logs into the active run (and creates the model in the run's
        # experiment, with its artifact location); leaving the `with` marks the run
        # FINISHED, and `end()` then sets the status that is true. (Model.log(run_id=...)
        # without an active run files the model under the Default experiment instead.)
        with mlflow.start_run(run_id=self.run_id), warnings.catch_warnings():
            # no input example on purpose: the signature is explicit (mlflow #16183)
            warnings.filterwarnings("ignore", message=".*input example.*")
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(package_dir / "serving_model.py"),
                artifacts={"keras_model": str(keras_file), "preprocessing": str(preprocessing_file)},
                code_paths=[str(package_dir)],
                signature=signature,
                pip_requirements=pip_requirements(),
            )
        self.client.set_tag(self.run_id, "model_uri", str(info.model_uri))

    def close(self) -> None:
        """Send what is queued and wait for it, leaving the run's status as it is."""
        self.flush()
        try:
            self.drain()
        finally:
            self._queue.put(None)

    def end(self, status: str) -> None:
        """Send what is queued, wait for it, then set `status` (FAILED if recording failed)."""
        self.flush()
        try:
            self.drain()
        except BaseException:
            self.client.set_terminated(self.run_id, "FAILED")
            raise
        finally:
            self._queue.put(None)
        self.client.set_terminated(self.run_id, status)


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
    crash (alembic: 'Online migration expected to match one row'), losing their runs."""
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
        yield None
        return
    quiet_environment()
    http_settings(tracking)
    from mlflow import MlflowClient

    uri = resolve_tracking_uri(tracking, paths)
    with store_lock(uri):  # MlflowClient opens (and, the first time, creates) the store
        client = MlflowClient(uri)
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
        recorder.end(recorder.status)


PARENT_TAG = "mlflow.parentRunId"
SWEEP_TAG = "sweep_name"


def start_sweep_run(tracking: TrackingConfig, paths: PathsConfig, name: str, tags: Mapping[str, Any]) -> str:
    """Create the experiment (once, before parallel jobs race on it) and a sweep's parent run."""
    quiet_environment()
    from mlflow import MlflowClient

    uri = resolve_tracking_uri(tracking, paths)
    with store_lock(uri):
        client = MlflowClient(uri)
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
    recorder = RunRecorder(resolve_tracking_uri(tracking, paths), run.info.run_id, parent.info.experiment_id)
    recorder.log_params(params)
    recorder.end("FAILED")
    return str(run.info.run_id)


def resume_run(tracking: TrackingConfig, paths: PathsConfig, run_id: str) -> RunRecorder:
    """A recorder for an existing run (a sweep's parent) without changing its status."""
    quiet_environment()
    run = _client(tracking, paths).get_run(run_id)
    return RunRecorder(resolve_tracking_uri(tracking, paths), run_id, run.info.experiment_id)


def _client(tracking: TrackingConfig, paths: PathsConfig) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(resolve_tracking_uri(tracking, paths))


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
