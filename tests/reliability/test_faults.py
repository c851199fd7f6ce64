"""Faults end with the truth in the run record: killed runs say KILLED, a dead server fails fast,
no credential reaches a recorded run, and a tracking URI with credentials is refused."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest
import yaml
from reliability_helpers import error_line, subprocess_env

from pipeline.core.config import load_config
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


SECRET = "planted-pw-7c1e"


@pytest.mark.parametrize("where", ["command line", "composed config", "composed config, sweep"])
def test_credentials_in_the_tracking_uri_are_refused_before_anything_is_written(
    where, tmp_path, path_overrides, isolated_tracking
):
    """`tracking.uri=http://bob:PASSWORD@...` ends in one line pointing to the environment, exit
    2, the password masked, nothing written: no Hydra folder, no store. Given on the command
    line it is refused before Hydra starts; from the composed config (here, an interpolation
    of an environment variable) before Hydra writes its output folder."""
    uri = f"http://bob:{SECRET}@127.0.0.1:{closed_port()}"
    given = uri if where == "command line" else "${oc.env:TEAM_URI}"
    sweep = ["-m", "optimizer=sgd,adam"] if "sweep" in where else []
    command = [sys.executable, "-m", "pipeline.run", *sweep, f"tracking.uri={given}", *path_overrides]
    command += [f"hydra.run.dir={tmp_path / 'job'}", f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    done = subprocess.run(
        command, cwd=ROOT, env=subprocess_env(TEAM_URI=uri), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 2, done.stderr[-3000:]
    line = error_line(done.stderr)
    assert "MLFLOW_TRACKING_USERNAME=bob MLFLOW_TRACKING_PASSWORD=" in line, line
    assert f"tracking.uri=http://127.0.0.1:{uri.rsplit(':', 1)[1]}" in line, line  # the URI to use instead
    assert SECRET not in done.stdout + done.stderr and "bob:***@" in line
    assert not (tmp_path / "job").exists() and not (tmp_path / "sweep").exists()
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert not any(SECRET.encode() in p.read_bytes() for p in written)
    assert not Path(isolated_tracking.removeprefix("sqlite:///")).exists()  # not even a store


def test_a_params_yaml_with_credentials_is_refused_and_never_written(make_config, tmp_path):
    """DVC's stages read params.yaml: one masked line; `python -m pipeline.compose` (make
    params) refuses to write the password into it."""
    params = make_config().model_dump(mode="json")
    params["tracking"]["uri"] = f"https://bob:{SECRET}@tracking.example"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(PipelineError) as refused:
        load_config(tmp_path / "params.yaml")
    assert "tracking.uri: https://bob:***@tracking.example holds credentials" in str(refused.value)
    assert "MLFLOW_TRACKING_PASSWORD" in str(refused.value) and SECRET not in str(refused.value)
    output = tmp_path / "composed.yaml"
    command = [sys.executable, "-m", "pipeline.compose", f"tracking.uri=https://bob:{SECRET}@h", "--output"]
    done = subprocess.run([*command, str(output)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and SECRET not in done.stderr and not output.exists(), done.stderr
