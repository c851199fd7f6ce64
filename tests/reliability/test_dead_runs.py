"""A run whose process died without ending it (SIGKILL, the out-of-memory killer) is found
and ended FAILED, with a note saying so, by the next command that opens its experiment on
the same host (a single run, a sweep, `pipeline.compare`, the DVC train stage), which says
so in one line on stderr; a run still training, or one recorded from another host, is left
alone. The killed-process scenarios are slow (make test-slow): `make test` took 14 min 11 s
with them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import mlflow
import pytest
import yaml
from reliability_helpers import ROOT, error_line, store_runs, subprocess_env

from pipeline.experiments.job import run_job
from pipeline.tracking.owner import PROCESS_TAG, is_dead, process_start

NOTE = "note: ended 1 run left RUNNING by a dead process on this host (pid {pid}): {name} {run_id} → FAILED"


def test_a_process_tag_tells_a_live_process_from_a_dead_one_and_a_reused_pid():
    child = subprocess.Popen(["sleep", "60"])
    tag = f"{socket.gethostname()}:{child.pid}:{process_start(child.pid)}"
    try:
        assert not is_dead(tag)
        assert is_dead(f"{socket.gethostname()}:{child.pid}:1")  # the same pid, started at another time
        assert not is_dead(f"another-host:{child.pid}:1")  # cannot be told from here
        assert not is_dead(None) and not is_dead("")
    finally:
        child.kill()
        child.wait()
    assert is_dead(tag)


def dead_process_tag() -> str:
    """The PROCESS_TAG of a process of this host that has ended."""
    child = subprocess.Popen(["sleep", "60"])
    tag = f"{socket.gethostname()}:{child.pid}:{process_start(child.pid)}"
    child.kill()
    child.wait()
    return tag


def assert_ended_failed_with_a_note(uri: str, run_id: str, stderr: str) -> None:
    killed = mlflow.MlflowClient(uri).get_run(run_id)
    assert killed.info.status == "FAILED"
    assert killed.data.tags["run_status"] == "failed"
    process, error = killed.data.tags[PROCESS_TAG], killed.data.tags["error"]
    assert "ended without ending the run" in error and process in error, error
    note = NOTE.format(pid=process.split(":")[1], name=killed.info.run_name, run_id=run_id)
    assert [line for line in stderr.splitlines() if line.startswith("note: ")] == [note], stderr[-3000:]


@pytest.mark.parametrize("command", ["run", "compare"])
def test_the_next_command_ends_a_dead_processes_run_failed_and_says_so(
    command, tmp_path, make_config, isolated_tracking, capsys, record_runs
):
    """A run left RUNNING by a process of this host that has ended (the state `kill -9`
    leaves, made here without training) is ended by the next single run, and by a plain
    `python -m pipeline.compare` even when it finds no sweep to compare."""
    cfg = make_config("training.epochs=1", "tracking.log_model=false")
    client = mlflow.MlflowClient(isolated_tracking)
    experiment_id = client.create_experiment(cfg.tracking.experiment)
    left = client.create_run(experiment_id, run_name="killed-run", tags={PROCESS_TAG: dead_process_tag()})
    if command == "run":
        run_job(cfg, tmp_path / "job")
        stderr = capsys.readouterr().err
    else:
        (tmp_path / "params.yaml").write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
        done = subprocess.run(
            [sys.executable, "-m", "pipeline.compare", f"--params={tmp_path / 'params.yaml'}"],
            cwd=ROOT,
            env=subprocess_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 2 and "no sweep found" in error_line(done.stderr), done.stderr[-3000:]
        stderr = done.stderr
    record_runs(2 if command == "run" else 1, len(store_runs(isolated_tracking)))
    assert_ended_failed_with_a_note(isolated_tracking, left.info.run_id, stderr)


def start_and_kill_a_run(tmp_path, path_overrides, uri: str) -> str:
    """`python -m pipeline.run` for many epochs, SIGKILLed once its run records metrics."""
    command = [
        sys.executable,
        "-m",
        "pipeline.run",
        "training.epochs=3000",
        f"hydra.run.dir={tmp_path / 'job'}",
    ]
    command += path_overrides
    job = subprocess.Popen(command, cwd=ROOT, env=subprocess_env(), start_new_session=True)
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline and job.poll() is None:
            running = [r for r in store_runs(uri) if r.info.status == "RUNNING" and r.data.metrics]
            if running:
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"the run never started recording (exit {job.poll()})")
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
    (run,) = store_runs(uri)
    assert run.info.status == "RUNNING"  # what MLflow alone leaves behind, for ever
    return run.info.run_id


@pytest.mark.slow  # a real training process killed, then read back: make test stays under 15 minutes
@pytest.mark.parametrize("reader", ["compare", "sweep", "run"])
def test_a_killed_runs_record_is_ended_failed_by_the_next_reader(
    reader, tmp_path, path_overrides, isolated_tracking, record_runs
):
    run_id = start_and_kill_a_run(tmp_path, path_overrides, isolated_tracking)
    if reader == "compare":
        command = ["-m", "pipeline.compare", "--experiment", "keras-regression", f"--out={tmp_path / 'cmp'}"]
    elif reader == "sweep":
        overrides = ["optimizer=sgd", "training.epochs=1", f"hydra.sweep.dir={tmp_path / 'sweep'}"]
        command = ["-m", "pipeline.run", "-m", *overrides, *path_overrides]
    else:
        overrides = ["training.epochs=1", f"hydra.run.dir={tmp_path / 'next'}"]
        command = ["-m", "pipeline.run", *overrides, *path_overrides]
    env = subprocess_env()
    done = subprocess.run(
        [sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    runs = store_runs(isolated_tracking)
    record_runs({"compare": 1, "sweep": 3, "run": 2}[reader], len(runs))
    assert done.returncode == 0, done.stderr[-3000:]
    assert_ended_failed_with_a_note(isolated_tracking, run_id, done.stderr)
    if reader != "compare":
        assert all(r.info.status == "FINISHED" for r in runs if r.info.run_id != run_id)
    else:
        table = (tmp_path / "cmp" / "comparison.csv").read_text()  # the comparison says so too
        assert "failed" in table and "ended without ending the run" in table, table
