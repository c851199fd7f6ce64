"""One MLflow run recorded from the training process (pipeline.tracking.recorder), against a
real SQLite store: what is logged lands in the store, and the run always ends with the
status that is true."""

from __future__ import annotations

import math
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from pipeline.core.config import PathsConfig, TrackingConfig
from pipeline.tracking import recorder as recorder_module
from pipeline.tracking.recorder import (
    BATCH_LIMIT,
    RUN_STATUS_TAG,
    RecordingError,
    RunRecorder,
    Terminated,
    tracked_run,
)

KEYS, STEPS = 25, 100  # 2,500 metrics: more than two full batches


def tracking(**fields: Any) -> TrackingConfig:
    return TrackingConfig(experiment="unit", run_name="run", **fields)


@pytest.fixture
def paths(tmp_path: Path) -> PathsConfig:
    """Every path in tmp_path; the run's artifacts under tmp_path/artifacts."""
    names = {name: str(tmp_path / name) for name in PathsConfig.model_fields}
    return PathsConfig(**(names | {"mlflow_artifacts": str(tmp_path / "artifacts")}))


@pytest.fixture
def client(store: str) -> MlflowClient:
    return MlflowClient(store)


def log_every_step(recorder: RunRecorder) -> None:
    for step in range(STEPS):
        recorder.log_metrics({f"m{key}": step + key / 100 for key in range(KEYS)}, step=step)


def assert_every_step_once(client: MlflowClient, run_id: str) -> None:
    for key in range(KEYS):
        history = client.get_metric_history(run_id, f"m{key}")
        assert sorted(m.step for m in history) == list(range(STEPS)), f"m{key}"
        assert {m.step: m.value for m in history} == {s: s + key / 100 for s in range(STEPS)}


def artifact_text(client: MlflowClient, run_id: str, name: str, tmp_path: Path) -> str:
    return Path(client.download_artifacts(run_id, name, str(tmp_path))).read_text()


def refuse_metrics(uri: str) -> None:
    """Make the store itself refuse every new metric row (as a full disk would), tags and
    run status still writable."""
    with closing(sqlite3.connect(uri.removeprefix("sqlite:///"))) as database, database:
        database.execute(
            "CREATE TRIGGER refuse_metrics BEFORE INSERT ON metrics "
            "BEGIN SELECT RAISE(ABORT, 'disk is full'); END"
        )


def test_params_metrics_and_tags_land_in_the_store(client, paths) -> None:
    params = {f"p{i:03d}": i for i in range(250)} | {"long": "x" * 7000}  # more than one batch
    with tracked_run(tracking(), paths, run_name="my-run", tags={"placed": "here"}) as recorder:
        recorder.log_params(params)
        recorder.log_metrics({"loss": 0.5, "count": 3}, step=2)
        recorder.set_tags({"dataset": "diabetes", "epochs_run": 5, "unset": None})
        run_id = recorder.run_id
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "my-run"
    assert run.data.params == {f"p{i:03d}": str(i) for i in range(250)} | {"long": "x" * 6000}
    assert run.data.metrics == {"loss": 0.5, "count": 3.0}
    assert [m.step for m in client.get_metric_history(run_id, "loss")] == [2]
    tags = run.data.tags
    assert tags["placed"] == "here" and tags["dataset"] == "diabetes" and tags["epochs_run"] == "5"
    assert "unset" not in tags
    assert client.get_experiment(run.info.experiment_id).name == "unit"


class BatchSizes:
    """MLflow's client, noting how many metrics each log_batch call carries."""

    def __init__(self, client: MlflowClient) -> None:
        self.client, self.sizes = client, []

    def log_batch(self, run_id: str, metrics: Any = (), **rest: Any) -> Any:
        if metrics:
            self.sizes.append(len(metrics))
        return self.client.log_batch(run_id, metrics=metrics, **rest)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


@pytest.mark.parametrize("asynchronous", [False, True], ids=["synchronous", "async_logging"])
def test_metrics_go_in_batches_of_at_most_1000_and_all_arrive_each_step_once(
    client, paths, monkeypatch, asynchronous
) -> None:
    wide = BATCH_LIMIT + 1
    with tracked_run(tracking(async_logging=asynchronous), paths) as recorder:
        spy = BatchSizes(recorder.client)
        monkeypatch.setattr(recorder, "client", spy)
        log_every_step(recorder)
        recorder.log_metrics({f"wide{i}": float(i) for i in range(wide)})  # in one call
        run_id = recorder.run_id
    # everything is in the store once the block has ended
    assert sum(spy.sizes) == KEYS * STEPS + wide and max(spy.sizes) == BATCH_LIMIT
    assert_every_step_once(client, run_id)
    metrics = client.get_run(run_id).data.metrics
    assert len(metrics) == KEYS + wide and all(metrics[f"wide{i}"] == i for i in range(wide))
    assert client.get_run(run_id).info.status == "FINISHED"


def test_nan_and_infinity_are_never_written(client, paths) -> None:
    with tracked_run(tracking(), paths) as recorder:
        recorder.log_metrics({"nan": math.nan, "inf": math.inf, "-inf": -math.inf, "ok": 1.5}, step=1)
        recorder.log_metrics({"ok": math.nan}, step=2)
        run_id = recorder.run_id
    assert client.get_run(run_id).data.metrics == {"ok": 1.5}
    assert [m.step for m in client.get_metric_history(run_id, "ok")] == [1]


def test_metrics_reach_the_store_while_a_long_run_goes_on(client, paths, monkeypatch) -> None:
    monkeypatch.setattr(recorder_module, "FLUSH_EVERY_S", 0.0)  # "long" is now
    with tracked_run(tracking(), paths) as recorder:
        recorder.log_metrics({"loss": 2.0}, step=1)
        assert client.get_run(recorder.run_id).data.metrics == {"loss": 2.0}
        assert client.get_run(recorder.run_id).info.status != "FINISHED"


def test_an_exception_fails_the_run_with_the_error_and_its_traceback(client, paths, tmp_path) -> None:
    with pytest.raises(ValueError, match="bad column") as failure:
        with tracked_run(tracking(), paths) as recorder:
            recorder.log_metrics({"loss": 1.0}, step=1)
            raise ValueError("bad column")
    run = client.get_run(recorder.run_id)
    assert failure.value.mlflow_run_id == recorder.run_id  # type: ignore[attr-defined]
    assert run.info.status == "FAILED"
    assert run.data.tags[RUN_STATUS_TAG] == "failed"
    assert run.data.tags["error"] == "ValueError: bad column"
    trace = artifact_text(client, recorder.run_id, "error.txt", tmp_path)
    assert trace.startswith("Traceback") and "ValueError: bad column" in trace
    assert run.data.metrics == {"loss": 1.0}  # what was logged before the error is kept


def test_ctrl_c_ends_the_run_killed(client, paths) -> None:
    with pytest.raises(KeyboardInterrupt):
        with tracked_run(tracking(), paths) as recorder:
            raise KeyboardInterrupt
    run = client.get_run(recorder.run_id)
    assert run.info.status == "KILLED" and run.data.tags[RUN_STATUS_TAG] == "killed"


def test_sigterm_ends_the_run_killed(client, paths) -> None:
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated):
        with tracked_run(tracking(), paths) as recorder:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # interrupted by the signal
    assert client.get_run(recorder.run_id).info.status == "KILLED"
    assert signal.getsignal(signal.SIGTERM) == previous  # the handler is put back


def test_a_status_set_on_the_recorder_ends_the_run_so(client, paths) -> None:
    with tracked_run(tracking(), paths) as recorder:
        recorder.log_metrics({"loss": 3.0}, step=1)
        recorder.status = "FAILED"  # a diverged run
    run = client.get_run(recorder.run_id)
    assert run.info.status == "FAILED" and run.data.metrics == {"loss": 3.0}


def test_a_store_that_refuses_the_metrics_at_the_end_is_a_recording_error(client, paths, store) -> None:
    with pytest.raises(RecordingError) as failure:
        with tracked_run(tracking(), paths) as recorder:
            log_every_step(recorder)  # the last 500 are still queued when the block ends
            refuse_metrics(store)
    assert failure.value.mlflow_run_id == recorder.run_id  # type: ignore[attr-defined]
    run = client.get_run(recorder.run_id)
    assert run.info.status == "FAILED"
    assert run.data.tags[RUN_STATUS_TAG] == "failed"
    assert run.data.tags["error"].startswith("RecordingError: ")


class Unwritable:
    """Make the store's file unwritable, even by root (immutable), and writable again."""

    def __init__(self, database: Path) -> None:
        self.database, self.frozen = database, False

    def __enter__(self) -> None:
        done = subprocess.run(["chattr", "+i", str(self.database)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"chattr +i is not available here: {done.stderr.decode().strip()}")
        self.frozen = True

    def __exit__(self, *exc_info: object) -> None:
        if self.frozen:
            subprocess.run(["chattr", "-i", str(self.database)], check=True)
            self.frozen = False


@pytest.fixture
def unwritable(store: str) -> Iterator[Unwritable]:
    if os.geteuid() != 0:
        pytest.skip("a file unwritable for its owner needs chattr +i, and so root")
    frozen = Unwritable(Path(store.removeprefix("sqlite:///")))
    yield frozen
    frozen.__exit__()


def test_a_store_file_made_unwritable_is_a_recording_error(client, paths, unwritable) -> None:
    """Nothing can be written then, not even FAILED: the run is left unfinished (RUNNING) for
    the sweep's end or the user to find, and never reported FINISHED."""
    with pytest.raises(RecordingError, match="disk I/O error") as failure:
        with tracked_run(tracking(), paths) as recorder:
            recorder.log_metrics({"loss": 1.0}, step=1)  # still queued
            unwritable.__enter__()  # until the run's end has failed
    unwritable.__exit__()
    assert failure.value.mlflow_run_id == recorder.run_id  # type: ignore[attr-defined]
    assert client.get_run(recorder.run_id).info.status != "FINISHED"


def test_a_recording_error_names_its_cause(client, paths, store) -> None:
    """What the user reads (the exception, the run's `error` tag) says why the store refused."""
    with pytest.raises(RecordingError) as failure:
        with tracked_run(tracking(), paths) as recorder:
            recorder.log_metrics({"loss": 1.0}, step=1)
            refuse_metrics(store)
    assert "disk is full" in str(failure.value)
    assert "disk is full" in client.get_run(recorder.run_id).data.tags["error"]


class RefusingClient:
    """MLflow's client, but a metric batch is refused (a server rejecting the request)."""

    def __init__(self, client: MlflowClient) -> None:
        self.client = client

    def log_batch(self, run_id: str, metrics: Any = (), **rest: Any) -> Any:
        if metrics:
            raise MlflowException("API request to /api/2.0/mlflow/runs/log-batch failed: 503")
        return self.client.log_batch(run_id, **rest)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_a_client_whose_log_batch_raises_ends_in_a_recording_error(client, paths, monkeypatch) -> None:
    with pytest.raises(RecordingError, match="503") as failure:
        with tracked_run(tracking(), paths) as recorder:
            monkeypatch.setattr(recorder, "client", RefusingClient(recorder.client))
            recorder.log_metrics({"loss": 1.0}, step=1)
    run = client.get_run(failure.value.mlflow_run_id)  # type: ignore[attr-defined]
    assert run.info.status == "FAILED"
    assert run.data.tags["error"].startswith("RecordingError: MlflowException: API request")
    assert run.data.metrics == {}


def test_a_run_is_resumed_by_its_id(client, paths) -> None:
    with tracked_run(tracking(), paths) as first:
        first.log_metrics({"loss": 1.0}, step=1)
    with tracked_run(tracking(), paths, run_id=first.run_id) as again:
        assert client.get_run(first.run_id).info.status == "RUNNING"
        again.log_metrics({"loss": 0.5}, step=2)
    assert again.run_id == first.run_id
    history = client.get_metric_history(first.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(1, 1.0), (2, 0.5)]
    assert client.get_run(first.run_id).info.status == "FINISHED"


def test_tracking_switched_off_records_nothing(paths, isolated_tracking) -> None:
    with tracked_run(tracking(enabled=False), paths) as recorder:
        assert recorder is None
    assert not Path(isolated_tracking.removeprefix("sqlite:///")).exists()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_during_a_store_write_waits_for_the_write_to_end(signum: int) -> None:
    """Ctrl-C inside SQLAlchemy's commit could leave SQLite locked by this process and the
    run's KILLED waiting on it for ever: the interrupt is held until the write is done."""
    from pipeline.tracking.recorder import StoreWrites, interrupts_between_writes

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
    try:
        check_held_interrupt(signum, StoreWrites(), interrupts_between_writes)
    finally:
        signal.signal(signal.SIGINT, previous)


def check_held_interrupt(signum: int, writes: Any, interrupts_between_writes: Any) -> None:
    finished_write = False
    with pytest.raises(KeyboardInterrupt), interrupts_between_writes(writes):
        with writes.write():
            os.kill(os.getpid(), signum)
            time.sleep(0.05)  # the handler has run by now: it held the signal
            finished_write = True
        pytest.fail("the held interrupt was not raised when the write ended")
    assert finished_write
    with pytest.raises(KeyboardInterrupt), interrupts_between_writes(writes):  # between writes: at once
        os.kill(os.getpid(), signum)
        time.sleep(1)
        pytest.fail("an interrupt between writes was held")
