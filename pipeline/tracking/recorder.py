"""One MLflow run, recorded from the process that trains it, through MLflow's client.

`tracked_run` starts (or resumes) a run and always ends it with the status that is true: FINISHED,
FAILED (an exception, a diverged run, a recording error), or KILLED (Ctrl-C, SIGTERM). Metrics are
buffered and sent with `log_batch`; everything is in the store when the run's `with` block ends.
"""

from __future__ import annotations

import math
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from functools import partial
from pathlib import Path
from typing import Any

from pipeline.core.config import PathsConfig, TrackingConfig
from pipeline.tracking.owner import PROCESS_TAG, RUN_STATUS_TAG, owner_tags, process_id
from pipeline.tracking.spool import Spool, unanswered
from pipeline.tracking.store import RetryCount, few_retries, open_experiment

PARAM_VALUE_LIMIT = 6000  # MLflow's longest param value
PARAMS_PER_BATCH = 100  # MLflow's most params per log_batch
BATCH_LIMIT = 1000  # MLflow's most metrics per log_batch
FLUSH_EVERY_S = 10.0  # a long run's metrics reach the store at least this often
PARENT_TAG = "mlflow.parentRunId"
RETRIES_TAG = "tracking_retries"  # requests retried while the tracking server was away


class RecordingError(RuntimeError):
    """A call to the tracking store failed; the run is marked FAILED."""


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


class RunRecorder:
    """Params, batched metrics, tags, artifacts and the model of one run, in call order.

    With `asynchronous`, metric batches go through MLflow's async logging queue and `end()`
    waits for them; otherwise each batch is written when it is sent.
    """

    def __init__(self, client: Any, uri: str, run_id: str, experiment_id: str, asynchronous: bool = False):
        self.client, self.uri, self.run_id, self.experiment_id = client, uri, run_id, experiment_id
        self.asynchronous, self.status = asynchronous, "FINISHED"
        self._pending: list[Any] = []
        self._operations: list[Any] = []
        self.first_step: list[Any] = []  # the step-0 metrics sent, which a logged model links
        self._last_flush = time.monotonic()
        self.writes = StoreWrites()
        self.spool: Spool | None = None  # where writes go once the server stops answering

    def record(self, kind: str, fields: dict[str, Any], call: Callable[[], Any]) -> Any:
        """Make one store write, `call`, and return what it returns. With a spool, a write the
        server does not answer (after the grace period's retries) starts it: that write, as
        `kind` and `fields`, and every later one go to the spool instead, and return None."""
        if self.spool is not None and self.spool.active:
            self.spool.add(kind, fields)
            return None
        try:
            with self.writes.write():
                return call()
        except Exception as err:
            if self.spool is None or not unanswered(err):
                raise
            self.spool.start(err)
            self.spool.add(kind, fields)
            return None

    def log_params(self, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(k, str(v)[:PARAM_VALUE_LIMIT]) for k, v in params.items()]
        for start in range(0, len(items), PARAMS_PER_BATCH):
            batch = items[start : start + PARAMS_PER_BATCH]
            fields = {"params": {p.key: p.value for p in batch}}
            self.record("params", fields, partial(self.client.log_batch, self.run_id, params=batch))

    def log_metrics(self, metrics: Mapping[str, Any], step: int = 0) -> None:
        """Queue finite metrics (NaN and infinity are never written); sent in full batches,
        at least every FLUSH_EVERY_S, and by `flush()`."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self._pending.extend(Metric(k, float(v), now, step) for k, v in metrics.items() if _finite(v))
        if len(self._pending) >= BATCH_LIMIT or time.monotonic() - self._last_flush > FLUSH_EVERY_S:
            self.flush()

    def flush(self) -> None:
        """Send every queued metric."""
        pending, self._pending = self._pending, []
        for start in range(0, len(pending), BATCH_LIMIT):
            self.send_metrics(pending[start : start + BATCH_LIMIT])
        self._last_flush = time.monotonic()

    def send_metrics(self, batch: list[Any]) -> None:
        """One `log_batch` of at most BATCH_LIMIT metrics (through the async queue if asked)."""
        fields = {"metrics": [[m.key, m.value, m.timestamp, m.step] for m in batch]}
        self.first_step.extend(m for m in batch if m.step == 0)
        if self.asynchronous:
            send = partial(self.client.log_batch, self.run_id, metrics=batch, synchronous=False)
            operation = self.record("metrics", fields, send)
            if operation is not None:
                self._operations.append((operation, fields))
        else:
            self.record("metrics", fields, partial(self.client.log_batch, self.run_id, metrics=batch))

    def wait(self) -> None:
        """Send what is queued and wait until the store has all of it."""
        self.flush()
        operations, self._operations = self._operations, []
        for operation, fields in operations:
            self.record("metrics", fields, operation.wait)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        from mlflow.entities import RunTag

        items = [RunTag(k, str(v)) for k, v in tags.items() if v is not None]
        for start in range(0, len(items), PARAMS_PER_BATCH):  # MLflow takes 100 tags a batch too
            batch = items[start : start + PARAMS_PER_BATCH]
            fields = {"tags": {t.key: t.value for t in batch}}
            self.record("tags", fields, partial(self.client.log_batch, self.run_id, tags=batch))

    def log_text(self, text: str, artifact_file: str) -> None:
        send = partial(self.client.log_text, self.run_id, text, artifact_file)
        self.record("text", {"text": text, "artifact_file": artifact_file}, send)

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        fields = {"path": str(Path(path).resolve()), "artifact_path": artifact_path}
        send = partial(self.client.log_artifact, self.run_id, str(path), artifact_path)
        self.record("artifact", fields, send)

    def log_artifacts(self, folder: str | Path, artifact_path: str | None = None) -> None:
        """Every file of `folder` (none if it does not exist) under `artifact_path`."""
        if Path(folder).is_dir() and any(Path(folder).iterdir()):
            fields = {"folder": str(Path(folder).resolve()), "artifact_path": artifact_path}
            send = partial(self.client.log_artifacts, self.run_id, str(folder), artifact_path)
            self.record("artifacts", fields, send)

    def log_inputs(self, datasets: list[Any]) -> None:
        fields = {"datasets": [d.to_dictionary() for d in datasets]}
        self.record("inputs", fields, partial(self.client.log_inputs, self.run_id, datasets=datasets))

    def end(self, status: str) -> None:
        """Send what is queued, wait for it, then set `status`."""
        self.wait()
        self.record("end", {"status": status}, partial(self.client.set_terminated, self.run_id, status))


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an interrupt so the run ends KILLED instead of staying RUNNING."""


class StoreWrites:
    """Counts store writes in flight. Ctrl-C or SIGTERM during one is held until it ends:
    an interrupt inside SQLAlchemy's commit can leave the SQLite file locked by this very
    process, and the run's own KILLED then waits on that lock for ever."""

    def __init__(self) -> None:
        self.depth = 0
        self.held: int | None = None

    @contextmanager
    def write(self) -> Iterator[None]:
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
        if self.depth == 0 and self.held is not None:
            signum, self.held = self.held, None
            _interrupt(signum)

    def on_signal(self, signum: int, frame: Any) -> None:
        if self.depth:
            self.held = signum
        else:
            _interrupt(signum)


def _interrupt(signum: int) -> None:
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Terminated(f"terminated by signal {signum}")


@contextmanager
def interrupts_between_writes(writes: StoreWrites) -> Iterator[None]:
    """Within the block, Ctrl-C raises KeyboardInterrupt and SIGTERM Terminated, each only
    between store writes (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    # a Ctrl-C the process was started to ignore (a background job of a shell) stays ignored
    caught = [s for s in (signal.SIGINT, signal.SIGTERM) if signal.getsignal(s) is not signal.SIG_IGN]
    previous = {s: signal.signal(s, writes.on_signal) for s in caught}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _fail(recorder: RunRecorder, status: str, tags: Mapping[str, Any], trace: str | None = None) -> bool:
    """End the run with `status` and `tags`, as far as the store lets us: the error that got
    us here matters more than one in recording it. A server still away after the grace period
    is not waited for again: with a spool the writes are kept there; without one the run
    stays RUNNING, and the next command on this host ends it FAILED. Whether it was ended."""
    with few_retries():
        with suppress(Exception):
            recorder.set_tags(tags)
        if trace is not None:
            with suppress(Exception):
                recorder.log_text(trace, "error.txt")
        with suppress(Exception):
            recorder.end(status)
            return True
    return False


def killed_note(recorder: RunRecorder, name: str, ended: bool) -> str:
    """What an interrupt did to the run (`ended`: whether `_fail` could end it), in words."""
    run = f"MLflow run {name} ({recorder.run_id})"
    if not ended:
        return f"{run} not marked KILLED (the store did not answer); the next command here ends it FAILED"
    spool = recorder.spool if recorder.spool is not None and recorder.spool.active else None
    return f"{run} marked KILLED" + (f" in its unsent record {spool.path}" if spool else "")


@contextmanager
def tracked_run(
    tracking: TrackingConfig,
    paths: PathsConfig,
    run_name: str | None = None,
    run_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
    parent_run_id: str | None = None,
    unsent: Path | None = None,
) -> Iterator[RunRecorder | None]:
    """Start (or resume, with `run_id`) an MLflow run and end it with the status that is true.

    Success: the recorder's `status` (FINISHED unless changed: a diverged run is FAILED);
    if recording fails at the end, FAILED and a RecordingError. An exception: FAILED, with
    the error as a tag and a traceback artifact. Ctrl-C or SIGTERM: KILLED. An exception
    leaving the block carries the run's id as `mlflow_run_id`. Yields None when tracking
    is switched off. With `unsent`, a server that stops answering for the grace period does
    not stop the block: the rest of the record goes to that file (pipeline.tracking.spool),
    and leaving the block raises a RecordingError that says how to send it.
    """
    if not tracking.enabled:
        yield None
        return
    uri, client, experiment_id = open_experiment(tracking, paths, lookup=run_id is None)
    if run_id is None:
        tags = {**owner_tags(), **(tags or {}), **({PARENT_TAG: parent_run_id} if parent_run_id else {})}
        run = client.create_run(experiment_id, run_name=run_name, tags=tags)
    else:
        run = client.get_run(run_id)
        client.update_run(run_id, status="RUNNING")
        client.set_tag(run_id, PROCESS_TAG, process_id())  # this process records it now
    recorder = RunRecorder(
        client, uri, run.info.run_id, run.info.experiment_id, asynchronous=tracking.async_logging
    )
    if unsent is not None:
        recorder.spool = Spool(unsent, uri, recorder.run_id, tracking.outage_grace_s)
    retries = RetryCount()
    try:
        with retries.installed(), interrupts_between_writes(recorder.writes):
            yield recorder
    except KeyboardInterrupt as err:
        ended = _fail(recorder, "KILLED", {RUN_STATUS_TAG: "killed"})
        note = killed_note(recorder, run.info.run_name, ended)  # for the interrupt's line (core.errors)
        err.killed_runs = [*getattr(err, "killed_runs", []), note]  # type: ignore[attr-defined]
        raise
    except BaseException as err:
        err.mlflow_run_id = recorder.run_id  # type: ignore[attr-defined]  # for the job's record
        error = {RUN_STATUS_TAG: "failed", "error": f"{type(err).__name__}: {err}"[:5000]}
        _fail(recorder, "FAILED", error, traceback.format_exc())
        raise
    try:
        with retries.installed():
            if retries.retries:  # the server went away and came back: the comparison says so
                recorder.set_tags({RETRIES_TAG: retries.retries})
            recorder.end(recorder.status)
    except Exception as err:
        summary = f"{type(err).__name__}: {' '.join(str(err).split())[:1000]}"  # the cause may be on any line
        _fail(recorder, "FAILED", {RUN_STATUS_TAG: "failed", "error": f"RecordingError: {summary}"[:5000]})
        failure = RecordingError(summary)
        failure.mlflow_run_id = recorder.run_id  # type: ignore[attr-defined]  # no second FAILED run
        raise failure from err
    if recorder.spool is not None and recorder.spool.active:
        away = RecordingError(recorder.spool.message())
        away.mlflow_run_id = recorder.run_id  # type: ignore[attr-defined]
        raise away
