"""A team's tracking server: a parallel sweep records every run and model through a real
`mlflow server` on 127.0.0.1 that serves the artifacts (no shared folder needed)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import mlflow
import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def tracking_server(tmp_path):
    port = free_port()
    bin_dir = os.path.dirname(sys.executable)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'server.db'}",
            "--artifacts-destination",
            str(tmp_path / "server-artifacts"),
            "--serve-artifacts",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"mlflow server did not start: {server.stderr.read().decode()[-2000:]}")
                time.sleep(0.5)
        yield url, tmp_path / "server-artifacts"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def test_a_parallel_sweep_records_every_run_and_model_on_the_server(
    tracking_server, tmp_path, path_overrides
):
    url, served_artifacts = tracking_server
    command = [
        sys.executable,
        "-m",
        "pipeline.run",
        "-m",
        "optimizer=sgd,adam,rmsprop,momentum",
        "training.epochs=3",
        f"tracking.uri={url}",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        *path_overrides,
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "MLFLOW_DISABLE_TELEMETRY": "true"}
    env.pop("MLFLOW_TRACKING_URI", None)
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "database is locked" not in done.stdout + done.stderr

    client = mlflow.MlflowClient(url)
    runs = client.search_runs([client.get_experiment_by_name("keras-regression").experiment_id])
    jobs = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(runs) == 5 and len(jobs) == 4  # a parent and one child per job
    assert all(r.info.status == "FINISHED" for r in runs)
    assert sorted(r.data.params["optimizer.name"] for r in jobs) == ["adam", "momentum", "rmsprop", "sgd"]
    for run in jobs:  # each model downloads from the server and loads
        logged = client.get_logged_model(run.data.tags["model_uri"].rsplit("/", 1)[-1])
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=logged.artifact_location,
            tracking_uri=url,
            dst_path=str(tmp_path / run.info.run_id),
        )
        assert mlflow.pyfunc.load_model(local).metadata.signature is not None
    assert len(list(served_artifacts.rglob("model.keras"))) == 4  # stored by the server, not the client
