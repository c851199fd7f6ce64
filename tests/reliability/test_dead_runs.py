"""A run whose process died without ending it (SIGKILL, the out-of-memory killer) is found
and ended FAILED, with a note saying so, the next time `pipeline.compare` or a sweep reads
the experiment; a run still training, or one recorded from another host, is left alone.
The killed-process scenarios are slow (make test-slow): `make test` took 14 min 11 s with them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import mlflow
import pytest
from reliability_helpers import ROOT, store_runs, subprocess_env

from pipeline.tracking.owner import PROCESS_TAG, is_dead, process_start


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
@pytest.mark.parametrize("reader", ["compare", "sweep"])
def test_a_killed_runs_record_is_ended_failed_by_the_next_reader(
    reader, tmp_path, path_overrides, isolated_tracking, record_runs
):
    run_id = start_and_kill_a_run(tmp_path, path_overrides, isolated_tracking)
    if reader == "compare":
        command = ["-m", "pipeline.compare", "--experiment", "keras-regression", f"--out={tmp_path / 'cmp'}"]
    else:
        overrides = ["optimizer=sgd", "training.epochs=1", f"hydra.sweep.dir={tmp_path / 'sweep'}"]
        command = ["-m", "pipeline.run", "-m", *overrides, *path_overrides]
    env = subprocess_env()
    done = subprocess.run(
        [sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    runs = store_runs(isolated_tracking)
    record_runs(1 if reader == "compare" else 3, len(runs))
    assert done.returncode == 0, done.stderr[-3000:]
    killed = mlflow.MlflowClient(isolated_tracking).get_run(run_id)
    assert killed.info.status == "FAILED"
    assert killed.data.tags["run_status"] == "failed"
    note = killed.data.tags["error"]
    assert "ended without ending the run" in note and killed.data.tags[PROCESS_TAG] in note, note
    if reader == "sweep":
        assert f"marked FAILED: its process {killed.data.tags[PROCESS_TAG]}" in done.stdout
        assert all(r.info.status == "FINISHED" for r in runs if r.info.run_id != run_id)
    else:
        table = (tmp_path / "cmp" / "comparison.csv").read_text()  # the comparison says so too
        assert "failed" in table and "ended without ending the run" in table, table
