"""Faults during training and while a stage writes: the run record tells the truth and no
stage output is ever half-written.

- an exception inside training: non-zero exit, the run FAILED with an `error` tag and an
  `error.txt` traceback artifact, nothing recorded FINISHED
- Ctrl-C (SIGINT, to the job's process group as a terminal sends it) or SIGTERM during
  `python -m pipeline.run`: exit 130, one line, the run KILLED, the job's outputs complete
  or absent; in a sweep's second job too (a known failure: the pictures' worker process)
- a crash while the split stage writes: no half-written processed folder, no temporary
  leftovers, an earlier output kept whole
- the store refuses a write while a run records (disk full): the run FAILED saying so, the
  next run records; in a sweep the other jobs record in full and the sweep names the job
- a job started without MLFLOW_DISABLE_TELEMETRY still runs with MLflow's telemetry off
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlflow
import pytest
import sqlalchemy
from reliability_helpers import ROOT, error_line, leftovers, store_runs, subprocess_env

from pipeline.core import io
from pipeline.core.files import MANIFEST_FILE, SCALER_FILE
from pipeline.data import split
from pipeline.data.normalize import normalize_folder
from pipeline.data.raw import ingest
from pipeline.model import engine
from pipeline.tracking.store import store_lock

EXPERIMENT = "keras-regression"


def after_each_epoch(monkeypatch, hook):
    """engine.train calls `hook(row)` after each epoch's own callback (a fault injected
    mid-training); the real engine.train is returned, to put back."""
    real_train = engine.train

    def train(*args, on_epoch=None, **kwargs):
        def on_epoch_then_hook(row):
            on_epoch(row)
            hook(row)

        return real_train(*args, on_epoch=on_epoch_then_hook, **kwargs)

    monkeypatch.setattr(engine, "train", train)
    return real_train


def test_an_exception_inside_training_ends_the_run_failed_with_the_error_and_its_traceback(
    run_pipeline, isolated_tracking, monkeypatch, tmp_path, record_runs
):
    """A real failure after training has started (not bad data or config): engine.train's
    epoch callback raises after the second epoch, as a crashing callback or device would."""

    def crash(row):
        if row["epoch"] >= 2:
            raise RuntimeError("simulated device failure in epoch 2")

    after_each_epoch(monkeypatch, crash)
    outcome = run_pipeline("training.epochs=5")
    runs = store_runs(isolated_tracking)
    record_runs(1, len(runs))

    assert outcome.code == 1, outcome
    # one line naming the error and the file with its traceback
    line = error_line(outcome.stderr)
    assert "RuntimeError: simulated device failure in epoch 2 (traceback in " in line, line
    assert len(runs) == 1, [(r.info.run_name, r.info.status) for r in runs]
    run = runs[0]
    assert run.info.status == "FAILED", run.info.status
    assert run.data.tags["run_status"] == "failed", run.data.tags
    assert run.data.tags["error"] == "RuntimeError: simulated device failure in epoch 2", run.data.tags
    assert not [r for r in runs if r.info.status == "FINISHED"]
    client = mlflow.MlflowClient(isolated_tracking)
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val_loss")] == [0, 1, 2]  # 0: start
    traceback_file = Path(client.download_artifacts(run.info.run_id, "error.txt", str(tmp_path / "dl")))
    text = traceback_file.read_text(encoding="utf-8")
    assert text.startswith("Traceback") and "in crash" in text, text[-2000:]
    assert "RuntimeError: simulated device failure in epoch 2" in text
    # the job folder: a failed record with the run's id, no model, no metrics
    job = tmp_path / "job"
    record = json.loads((job / "job.json").read_text(encoding="utf-8"))
    assert record["status"] == "failed" and record["run_id"] == run.info.run_id, record
    assert "simulated device failure" in record["error"], record
    assert not (job / "model").exists() and not (job / "metrics.json").exists()
    assert leftovers(job) == []


DISK_FULL = "database or disk is full"


class StoreFault:
    """MLflow's SQLite store refuses the next write of metrics once `arm()` is called, as a
    store whose disk just filled up does: SQLite's OperationalError inside the store's
    transaction (rolled back), which MLflow raises as an MlflowException. One write fails;
    the store works again afterwards, so the run can still be ended with the truth. Where
    the failed write lands depends on timing (metrics are sent in batches, at the latest
    when the run ends), so the scenarios check what the user sees, not which call failed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        self.armed = False
        self.fired = 0
        real_log_metrics = SqlAlchemyStore._log_metrics

        def log_metrics(store, run_id, metrics):
            if self.armed and metrics:
                self.armed = False
                self.fired += 1
                raise sqlalchemy.exc.OperationalError(
                    "INSERT INTO metrics", {}, sqlite3.OperationalError(DISK_FULL)
                )
            return real_log_metrics(store, run_id, metrics)

        monkeypatch.setattr(SqlAlchemyStore, "_log_metrics", log_metrics)

    def arm(self) -> None:
        self.armed = True


@pytest.mark.parametrize(
    "sent",
    [
        "at_the_end",
        "every_epoch",
    ],
)
def test_a_recording_failure_mid_run_fails_the_run_and_the_next_run_records(
    run_pipeline, isolated_tracking, monkeypatch, tmp_path, record_runs, sent
):
    """The store refuses the run's metrics from epoch 2 on (the disk fills up): the run ends
    FAILED saying why, the command exits 1 with one line, and the next run in the same
    process records in full (nothing is left broken in the process). The refused write is
    either the one at the run's end (a short run: metrics are sent in batches, at least
    every FLUSH_EVERY_S) or one during training (a long run, here: metrics sent each epoch)."""
    if sent == "every_epoch":
        from pipeline.tracking import recorder

        monkeypatch.setattr(recorder, "FLUSH_EVERY_S", -1.0)
    fault = StoreFault(monkeypatch)

    def fail_the_store(row):
        if row["epoch"] == 2:
            fault.arm()

    real_train = after_each_epoch(monkeypatch, fail_the_store)
    outcome = run_pipeline("training.epochs=5")
    runs = store_runs(isolated_tracking)
    record_runs(1, len(runs))
    assert fault.fired == 1, fault.fired
    assert outcome.code == 1, outcome
    assert [r.info.status for r in runs] == ["FAILED"], [(r.info.run_name, r.info.status) for r in runs]
    assert runs[0].data.tags["run_status"] == "failed", runs[0].data.tags
    assert DISK_FULL in runs[0].data.tags["error"], runs[0].data.tags
    record = json.loads((tmp_path / "job" / "job.json").read_text(encoding="utf-8"))
    assert record["status"] == "failed" and record["run_id"] == runs[0].info.run_id, record
    line = error_line(outcome.stderr)
    assert DISK_FULL in line, line
    assert "(traceback in " in line, outcome.stderr  # the whole message on its one line

    monkeypatch.setattr(engine, "train", real_train)
    again = run_pipeline("training.epochs=5")
    assert again.code == 0, again
    runs = store_runs(isolated_tracking)
    record_runs(1, len(runs) - 1)
    finished = [r for r in runs if r.info.status == "FINISHED"]
    assert len(runs) == 2 and len(finished) == 1, [(r.info.run_name, r.info.status) for r in runs]
    client = mlflow.MlflowClient(isolated_tracking)
    steps = [m.step for m in client.get_metric_history(finished[0].info.run_id, "val_loss")]
    assert steps == [0, 1, 2, 3, 4, 5]  # the start, then every epoch
    assert "model_uri" in finished[0].data.tags


def test_an_unexpected_error_in_a_job_ends_with_one_error_line(run_pipeline, monkeypatch):
    from pipeline.experiments import job

    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash inside the job")

    monkeypatch.setattr(job, "run_job", crash)  # pipeline.experiments.run._job looks it up there
    outcome = run_pipeline()
    assert outcome.code == 1, outcome  # an internal error, not the user's (those exit 2)
    line = error_line(outcome.stderr)
    assert "RuntimeError: simulated crash inside the job (traceback in " in line
    trace = Path(line.rsplit("(traceback in ", 1)[1].rstrip(")"))
    assert 'raise RuntimeError("simulated crash inside the job")' in trace.read_text()


def interrupt(
    command: list[str],
    store: str,
    is_long: Callable[[Any], bool],
    sig: int,
    group: bool,
    ready: Callable[[], bool] = lambda: True,
) -> tuple[int | None, str, str | None, Any]:
    """Start `command` in a session of its own, wait until the run `is_long` picks has
    recorded 20 epochs (and `ready()` holds), then send `sig` to the job, or with `group` to
    every process of its session, as a terminal's Ctrl-C does (the job's own children
    included). Returns the exit status, stderr, that run's id (None if it never got going)
    and a client of the store."""
    env = subprocess_env(TF_CPP_MIN_LOG_LEVEL="2", MLFLOW_DISABLE_TELEMETRY="true")
    job = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a process group of its own: the job and its children, not pytest
        # Ctrl-C's default, as in a terminal: a test runner started in the background by a
        # shell without job control inherits SIGINT ignored, and Python then never raises
        # KeyboardInterrupt (the job trained on and the test timed out)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    with store_lock(store):  # the job creates the store at the same time: never migrate beside it
        client = mlflow.MlflowClient(store)
    deadline = time.monotonic() + 180
    run_id = None
    try:
        while time.monotonic() < deadline and job.poll() is None:  # wait until it trains
            time.sleep(1)
            try:
                runs = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
            except Exception:  # the store or the experiment is not there yet
                continue
            long = [r for r in runs if is_long(r)]
            if long and len(client.get_metric_history(long[0].info.run_id, "val_loss")) >= 20 and ready():
                run_id = long[0].info.run_id
                break
        if group:
            os.killpg(job.pid, sig)
        else:
            job.send_signal(sig)
        _, stderr = job.communicate(timeout=60)
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
            job.communicate()
    return job.returncode, stderr, run_id, client


def assert_one_interrupted_line(stderr: str) -> str:
    """The one `interrupted:` line, with no traceback."""
    assert "Traceback" not in stderr, stderr[max(stderr.index("Traceback") - 500, 0) :][:6000]
    lines = [line for line in stderr.splitlines() if line.startswith("interrupted: ")]
    assert len(lines) == 1, stderr[-3000:]
    return lines[0]


@pytest.mark.parametrize(
    ("sig", "name", "group"),
    [(signal.SIGINT, "SIGINT", True), (signal.SIGTERM, "SIGTERM", False)],
    ids=["sigint", "sigterm"],
)
def test_ctrl_c_during_training_ends_the_run_killed_and_leaves_outputs_whole_or_absent(
    tmp_path, path_overrides, record_runs, sig, name, group
):
    """SIGINT as Ctrl-C sends it (to the job's whole process group); SIGTERM as `kill PID`
    or a scheduler sends it (to the job)."""
    store = f"sqlite:///{tmp_path / 'store.db'}"
    job_dir = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "pipeline.run",
        "training.epochs=1000000",
        f"tracking.uri={store}",
        f"hydra.run.dir={job_dir}",
        *path_overrides,
    ]
    code, stderr, run_id, client = interrupt(command, store, lambda run: True, sig, group)
    record_runs(1, len(store_runs(store)))
    assert run_id is not None, f"the run never got going: {stderr[-3000:]}"
    assert code == 130, stderr[-3000:]
    line = assert_one_interrupted_line(stderr)
    run = client.get_run(run_id)
    assert line.endswith(f"; MLflow run {run.info.run_name} ({run_id}) marked KILLED"), line  # names it
    assert run.info.status == "KILLED", f"{name}: the run ended {run.info.status}"
    assert run.data.tags["run_status"] == "killed", run.data.tags
    assert len(client.get_metric_history(run_id, "val_loss")) >= 20  # what was recorded stays
    assert [r.info.status for r in store_runs(store)] == ["KILLED"]
    # the job's outputs: a model folder, if any, is complete; nothing half-written
    model = job_dir / "model"
    assert not model.exists() or {p.name for p in model.iterdir()} >= {"model.keras"}, list(model.iterdir())
    assert not (job_dir / "metrics.json").exists()  # training never ended, nothing evaluated
    assert leftovers(job_dir) == []
    for key in ("prepared_cache",):  # the prepared data the job made first is whole
        folder = Path(next(o.split("=", 1)[1] for o in path_overrides if o.startswith(f"paths.{key}=")))
        assert leftovers(folder.parent) == [], leftovers(folder.parent)


# the default job's pictures (diabetes, one hidden layer of 8: diagnostics on)
SWEEP_JOB_PICTURES = (
    "learning_curves.png",
    "layer_diagnostics.png",
    "distributions.png",
    "predicted_vs_actual.png",
    "residuals.png",
)


def test_ctrl_c_during_a_sweep_ends_the_running_job_killed_with_one_line(
    tmp_path, path_overrides, record_runs
):
    """Ctrl-C in the second job of a sequential sweep, once the first job's pictures have
    been drawn (so every process the sweep started is there): exit 130, one line, the
    running job's run KILLED, the finished one FINISHED with its pictures (a sweep adds its
    jobs' pictures at its end, and at Ctrl-C those drawn so far), the sweep's parent KILLED."""
    store = f"sqlite:///{tmp_path / 'store.db'}"
    command = [
        sys.executable,
        "-m",
        "pipeline.run",
        "-m",
        "training.epochs=2,1000000",
        f"tracking.uri={store}",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        *path_overrides,
    ]

    def is_long(run: Any) -> bool:
        return run.data.params.get("training.epochs") == "1000000"

    first_pictures = tmp_path / "sweep" / "0" / "figures"
    drawn = lambda: len(list(first_pictures.glob("*.png"))) >= len(SWEEP_JOB_PICTURES)  # noqa: E731
    code, stderr, run_id, client = interrupt(command, store, is_long, signal.SIGINT, True, drawn)
    runs = store_runs(store)
    record_runs(3, len(runs))  # two jobs and the sweep's parent
    assert run_id is not None, f"the second job never got going: {stderr[-3000:]}"
    assert code == 130, stderr[-3000:]
    jobs = {r.data.params.get("training.epochs"): r for r in runs if "mlflow.parentRunId" in r.data.tags}
    assert set(jobs) == {"2", "1000000"}, [(r.info.run_name, r.data.params) for r in runs]
    assert jobs["2"].info.status == "FINISHED", jobs["2"].info
    logged = {a.path for a in client.list_artifacts(jobs["2"].info.run_id, "figures")}
    assert logged == {f"figures/{name}" for name in SWEEP_JOB_PICTURES}, logged
    assert jobs["1000000"].info.status == "KILLED", jobs["1000000"].info
    assert jobs["1000000"].data.tags["run_status"] == "killed", jobs["1000000"].data.tags
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert [p.info.status for p in parents] == ["KILLED"], [(p.info.run_name, p.info.status) for p in parents]
    line = assert_one_interrupted_line(stderr)
    assert f"MLflow run {jobs['1000000'].info.run_name} ({run_id}) marked KILLED" in line, line
    parent = parents[0].info
    assert f"the sweep's parent run {parent.run_name} ({parent.run_id}) marked KILLED" in line, line


@pytest.fixture
def normalized(make_config):
    """The default data set through the ingest and normalize stages, every path in tmp_path."""
    cfg = make_config()
    raw = Path(cfg.paths.raw_dir)
    ingest(cfg.dataset, Path(cfg.paths.download_dir), raw)
    normalize_folder(cfg.dataset, raw, Path(cfg.paths.interim_dir))
    return cfg


def test_a_crash_while_split_writes_leaves_no_half_written_output(normalized, monkeypatch):
    """The split stage writes its parts and scaler, then fails on the manifest: the processed
    folder is absent (first run) or keeps its earlier content whole (a re-run)."""
    cfg = normalized
    interim, processed = Path(cfg.paths.interim_dir), Path(cfg.paths.processed_dir)
    real_write_json = split.write_json

    def crash_on_manifest(path, data):
        if Path(path).name == MANIFEST_FILE:
            parts = sorted(p.name for p in Path(path).parent.iterdir())
            assert "train.parquet" in parts and SCALER_FILE in parts, parts  # half written
            raise OSError(28, "No space left on device")
        real_write_json(path, data)

    monkeypatch.setattr(split, "write_json", crash_on_manifest)
    with pytest.raises(OSError, match="No space left"):
        split.split_folder(cfg.dataset, cfg.split, interim, processed)
    assert not processed.exists()
    assert leftovers(processed.parent) == []

    monkeypatch.setattr(split, "write_json", real_write_json)
    split.split_folder(cfg.dataset, cfg.split, interim, processed)
    before = {p.name: p.read_bytes() for p in processed.iterdir()}
    assert MANIFEST_FILE in before

    monkeypatch.setattr(split, "write_json", crash_on_manifest)
    with pytest.raises(OSError, match="No space left"):
        split.split_folder(cfg.dataset, cfg.split, interim, processed)
    assert {p.name: p.read_bytes() for p in processed.iterdir()} == before
    assert leftovers(processed.parent) == []


def test_atomic_writes_leave_the_target_absent_or_as_it_was_when_the_writer_fails(tmp_path):
    target = tmp_path / "out" / "metrics.json"
    with pytest.raises(RuntimeError), io.atomic_path(target) as tmp:
        tmp.write_text('{"half": ', encoding="utf-8")
        raise RuntimeError("crash mid-write")
    assert not target.exists() and leftovers(target.parent) == []

    io.write_json(target, {"whole": 1})
    with pytest.raises(RuntimeError), io.atomic_path(target) as tmp:
        tmp.write_text('{"half": ', encoding="utf-8")
        raise RuntimeError("crash mid-write")
    assert io.read_json(target) == {"whole": 1} and leftovers(target.parent) == []

    folder = tmp_path / "out" / "model"
    with pytest.raises(RuntimeError), io.atomic_dir(folder) as tmp:
        (tmp / "model.keras").write_bytes(b"half")
        raise RuntimeError("crash mid-write")
    assert not folder.exists() and leftovers(folder.parent) == []

    with io.atomic_dir(folder) as tmp:
        (tmp / "model.keras").write_bytes(b"whole")
        (tmp / "preprocessing.json").write_text("{}", encoding="utf-8")
    with pytest.raises(RuntimeError), io.atomic_dir(folder) as tmp:
        (tmp / "model.keras").write_bytes(b"half")
        raise RuntimeError("crash mid-write")
    assert sorted(p.name for p in folder.iterdir()) == ["model.keras", "preprocessing.json"]
    assert (folder / "model.keras").read_bytes() == b"whole"
    assert leftovers(folder.parent) == []


TELEMETRY_PROBE = textwrap.dedent(
    """
    # Loaded by `site` at start-up in every Python process of the job (the job itself, the
    # pictures' worker, multiprocessing's resource tracker, ...): records, one file per
    # process, what each does about MLflow's telemetry.
    import atexit, json, os, socket, sys, threading

    _report = os.path.join(os.environ["TELEMETRY_PROBE_DIR"], f"{os.getpid()}.json")
    _attempts = []
    _threads = []
    _LOCAL = {"localhost", "127.0.0.1", "::1", "", None}

    _getaddrinfo = socket.getaddrinfo
    def getaddrinfo(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if name not in _LOCAL and not str(name).startswith("127."):
            _attempts.append(f"resolve {name}")
            raise socket.gaierror(socket.EAI_NONAME, "blocked by the test")
        return _getaddrinfo(host, *args, **kwargs)
    socket.getaddrinfo = getaddrinfo

    _connect = socket.socket.connect
    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in _LOCAL \\
                and not str(address[0]).startswith("127."):
            _attempts.append(f"connect {address}")
            raise OSError("blocked by the test")
        return _connect(self, address)
    socket.socket.connect = connect

    _start = threading.Thread.start
    def start(self):
        _threads.append(self.name)
        return _start(self)
    threading.Thread.start = start

    @atexit.register
    def _write():
        telemetry = sys.modules.get("mlflow.telemetry")
        utils = sys.modules.get("mlflow.telemetry.utils")
        state = {
            "argv": sys.argv,
            "ran_a_job": "pipeline.experiments.job" in sys.modules,
            "mlflow_imported": "mlflow" in sys.modules,
            "client": repr(telemetry.get_telemetry_client()) if telemetry else "not imported",
            "disabled": utils.is_telemetry_disabled() if utils else None,
            "env": {k: os.environ.get(k) for k in ("MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK")},
            "attempts": _attempts,
            "threads": sorted({t for t in _threads if "Telemetry" in t}),
        }
        with open(_report, "w") as out:
            json.dump(state, out)
    """
)

# Any of these makes MLflow switch telemetry off by itself (mlflow.telemetry.utils), which
# would hide whether the job does: the job must not see them.
CI_MARKERS = (
    "PYTEST_CURRENT_TEST",
    "GITHUB_ACTIONS",
    "CI",
    "CIRCLECI",
    "GITLAB_CI",
    "JENKINS_URL",
    "TRAVIS",
    "TF_BUILD",
    "BITBUCKET_BUILD_NUMBER",
    "CODEBUILD_BUILD_ARN",
    "BUILDKITE",
    "TEAMCITY_VERSION",
    "CLOUD_RUN_EXECUTION",
    "RUNBOT_HOST_URL",
    "RUNBOT_BUILD_NAME",
    "RUNBOT_WORKER_ID",
    "MLFLOW_DISABLE_TELEMETRY",
    "DO_NOT_TRACK",
    "_MLFLOW_TESTING_TELEMETRY",
)


def probe_reports(folder: Path) -> list[dict]:
    """What TELEMETRY_PROBE saw, one report per Python process that ran with it."""
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]


def test_a_job_started_without_telemetry_settings_runs_with_mlflow_telemetry_off(
    tmp_path, path_overrides, record_runs
):
    """`python -m pipeline.run` with none of MLflow's off switches in its environment: MLflow
    (imported only after `tracking.quiet_environment` ran) never creates its telemetry client,
    and no process of the job (the job's own, and any it starts) runs a telemetry thread or
    tries a connection off this machine. A sitecustomize.py watches every Python process of
    the real command from start-up to exit, and refuses any such connection."""
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "sitecustomize.py").write_text(TELEMETRY_PROBE, encoding="utf-8")
    reports = tmp_path / "telemetry"
    reports.mkdir()
    store = f"sqlite:///{tmp_path / 'store.db'}"
    env = {k: v for k, v in subprocess_env().items() if k not in CI_MARKERS}
    env.update(PYTHONPATH=str(probe), TELEMETRY_PROBE_DIR=str(reports), TF_CPP_MIN_LOG_LEVEL="2")
    command = [
        sys.executable,
        "-m",
        "pipeline.run",
        "training.epochs=2",
        f"tracking.uri={store}",
        f"hydra.run.dir={tmp_path / 'run'}",
        *path_overrides,
    ]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    runs = store_runs(store)
    record_runs(1, len(runs))
    assert done.returncode == 0, done.stderr[-3000:]
    assert [r.info.status for r in runs] == ["FINISHED"]
    states = probe_reports(reports)
    jobs = [s for s in states if s["ran_a_job"]]
    assert len(jobs) == 1, states  # the job's own process
    state = jobs[0]
    assert state["mlflow_imported"], state
    assert state["env"]["MLFLOW_DISABLE_TELEMETRY"] == "true", state
    assert state["disabled"] is True, state
    assert state["client"] == "None", f"MLflow created its telemetry client: {state}"
    for state in states:  # the job's process and every process it started
        assert state["threads"] == [], f"telemetry threads started: {state}"
        assert state["attempts"] == [], f"connections off this machine were tried: {state}"


def test_the_telemetry_probe_sees_telemetry_when_nothing_switches_it_off(tmp_path):
    """The probe above can fail: importing MLflow with no off switch creates the client."""
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "sitecustomize.py").write_text(TELEMETRY_PROBE, encoding="utf-8")
    reports = tmp_path / "telemetry"
    reports.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in CI_MARKERS}
    env.update(PYTHONPATH=str(probe), TELEMETRY_PROBE_DIR=str(reports), HOME=str(tmp_path))
    subprocess.run([sys.executable, "-c", "import mlflow"], env=env, check=True, timeout=120)
    states = probe_reports(reports)
    assert len(states) == 1, states
    assert states[0]["disabled"] is False and states[0]["client"] != "None", states


def test_a_recording_failure_during_a_sweep_fails_its_job_and_leaves_no_run_running(
    run_pipeline, isolated_tracking, monkeypatch, tmp_path, record_runs
):
    """A sequential sweep of three jobs; the store refuses the second job's metrics from its
    epoch 2 on. That job's run ends FAILED with the error, the first and third record in
    full, none is left RUNNING, and the sweep exits 1 naming the failed job."""
    fault = StoreFault(monkeypatch)
    jobs_seen: list[int] = []

    def fail_in_the_second_job(row):
        if row["epoch"] == 1:
            jobs_seen.append(1)
        if len(jobs_seen) == 2 and row["epoch"] == 2:
            fault.arm()

    after_each_epoch(monkeypatch, fail_in_the_second_job)
    outcome = run_pipeline(
        "hydra.mode=MULTIRUN",
        "optimizer=sgd,adam,rmsprop",
        "training.epochs=4",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    )
    runs = store_runs(isolated_tracking)
    record_runs(4, len(runs))  # three jobs and the sweep's parent
    assert fault.fired == 1, fault.fired
    assert outcome.code == 1, outcome
    assert "Traceback" not in outcome.stderr, outcome.stderr[-3000:]
    # runs are named <initializer>-<optimizer>-lr<rate>
    by_optimizer = {
        opt: r for r in runs for opt in ("sgd", "adam", "rmsprop") if f"-{opt}-" in r.info.run_name
    }
    parents = [r for r in runs if r not in by_optimizer.values()]
    statuses = {opt: r.info.status for opt, r in by_optimizer.items()}
    assert len(by_optimizer) == 3 and len(parents) == 1, [r.info.run_name for r in runs]
    assert statuses == {"sgd": "FINISHED", "adam": "FAILED", "rmsprop": "FINISHED"}, statuses
    assert parents[0].info.status == "FAILED", parents[0].info
    failed = by_optimizer["adam"]
    assert failed.data.tags["run_status"] == "failed", failed.data.tags
    assert DISK_FULL in failed.data.tags["error"], failed.data.tags
    failed_lines = [line for line in outcome.stderr.splitlines() if line.startswith("failed job ")]
    assert len(failed_lines) == 1, failed_lines
    assert failed_lines[0].startswith("failed job 1 (") and "optimizer=adam" in failed_lines[0], failed_lines
    assert DISK_FULL in failed_lines[0], failed_lines
    assert "sweep: 1 of 3 job(s) failed" in outcome.stderr, outcome.stderr[-3000:]
    client = mlflow.MlflowClient(isolated_tracking)
    for optimizer in ("sgd", "rmsprop"):
        run = by_optimizer[optimizer]
        assert [m.step for m in client.get_metric_history(run.info.run_id, "val_loss")] == [0, 1, 2, 3, 4]
        assert "model_uri" in run.data.tags
        figures = {a.path for a in client.list_artifacts(run.info.run_id, "figures")}
        assert "figures/learning_curves.png" in figures, figures
