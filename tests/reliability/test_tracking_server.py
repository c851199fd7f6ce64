"""A team's tracking server: a parallel sweep records every run and model through a real
`mlflow server` on 127.0.0.1 that serves the artifacts (no shared folder needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # minutes of real processes: CI runs it (make test-slow)
def test_a_parallel_sweep_records_every_run_and_model_on_the_server(
    tracking_server, tmp_path, path_overrides, record_runs
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
    client = mlflow.MlflowClient(url)
    experiment = client.get_experiment_by_name("keras-regression")
    runs = client.search_runs([experiment.experiment_id]) if experiment else []
    record_runs(5, len(runs))  # a parent and one child per job
    assert done.returncode == 0, done.stderr[-3000:]
    assert "database is locked" not in done.stdout + done.stderr

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
