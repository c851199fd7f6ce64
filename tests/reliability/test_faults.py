"""Faults end with the truth in the run record: killed runs say KILLED, a dead server fails fast,
and no credential reaches a recorded run."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import mlflow
import pytest

from pipeline.core.errors import PipelineError
from pipeline.experiments.job import run_job

ROOT = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends


def test_an_unreachable_tracking_server_fails_within_30_s_naming_it_before_any_data(make_config, tmp_path):
    uri = f"http://127.0.0.1:{closed_port()}"
    cfg = make_config(f"tracking.uri={uri}")
    started = time.monotonic()
    with pytest.raises(PipelineError) as failure:
        run_job(cfg, tmp_path / "job")
    assert time.monotonic() - started < 30
    assert uri in str(failure.value)
    assert not Path(cfg.paths.prepared_cache).exists()  # nothing was read or prepared
    assert not (tmp_path / "job").exists()


def test_a_planted_credential_never_reaches_the_recorded_run(
    make_config, tmp_path, isolated_tracking, monkeypatch, record_runs
):
    secret = "planted-s3cr3t-4f9a"
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", secret)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    cfg = make_config()
    report = run_job(cfg, tmp_path / "job")
    client = mlflow.MlflowClient(isolated_tracking)
    record_runs(1, len(client.search_runs([client.get_experiment_by_name("keras-regression").experiment_id])))
    run = client.get_run(report["run_id"])
    recorded = [*run.data.params.values(), *run.data.tags.values()]
    assert not any(secret in value for value in recorded)
    artifacts = Path(client.download_artifacts(report["run_id"], "", str(tmp_path / "artifacts")))
    for path in artifacts.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), f"{path.name} holds the credential"


def test_credentials_in_a_tracking_uri_are_masked_in_params():
    from pipeline.experiments.compose import compose_config
    from pipeline.tracking.records import recorded_params

    cfg = compose_config(["tracking.uri=http://alice:planted-pw@tracking.example:5000"], ROOT / "conf")
    params = recorded_params(cfg)
    assert "planted-pw" not in str(params)
    assert params["tracking.uri"] == "http://***@tracking.example:5000"
