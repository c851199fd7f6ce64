"""A sweep on a Ray cluster of two nodes (a head and a worker, separate processes on
127.0.0.1) recording to a team's tracking server: `mlflow server --app-name basic-auth`
on PostgreSQL, serving the artifacts, the jobs authenticated as a team member.

The driver runs in a copy of the project; the Ray nodes run from another folder. Ray ships
the project folder to its workers, and every run and model reaches the driver's side only
through the tracking server: no job writes into the driver's folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from team_server import ADMIN

ROOT = Path(__file__).resolve().parents[2]
RAY_START_TIMEOUT_S = 120


def ray_installed() -> None:
    try:
        import hydra_plugins.hydra_ray_launcher  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            raise  # CI installs the Ray extra (make test): a missing plugin is a failure there
        pytest.skip("the Ray extra is not installed (make install-ray, or pip install -e .[ray])")


def ray_env(cwd: Path, credentials: dict[str, str]) -> dict[str, str]:
    """The environment of the Ray nodes and the driver: a team member's `credentials` (a
    node's workers inherit them, so no password travels in a job's config), and a HOME of
    their own, because Ray reads ~/.ray/auth_token, which a user's earlier local Ray session
    may have left behind."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "RAY_ADDRESS")}
    bin_dir = os.path.dirname(sys.executable)
    home = cwd / ".home"
    home.mkdir(exist_ok=True)
    return (
        env
        | credentials
        | {
            "HOME": str(home),
            "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
            "RAY_USAGE_STATS_ENABLED": "0",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PWD": str(cwd),
        }
    )


def ray_command(*args: str, cwd: Path, credentials: dict[str, str]) -> None:
    done = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ray"), *args],
        cwd=cwd,
        env=ray_env(cwd, credentials),
        capture_output=True,
        text=True,
        timeout=RAY_START_TIMEOUT_S,
    )
    assert done.returncode == 0, f"ray {' '.join(args)}: {done.stdout[-1500:]}{done.stderr[-1500:]}"


@pytest.fixture
def ray_cluster(free_port, team_server) -> Iterator[str]:
    """A head node and a worker node, one CPU each, started with `ray start` on 127.0.0.1,
    with a team member's credentials for `team_server`."""
    ray_installed()
    credentials = team_server.credentials()
    port = free_port()
    # Ray's socket paths must stay short: a temp dir directly under /tmp.
    nodes_dir = Path(tempfile.mkdtemp(prefix="ray-nodes-", dir="/tmp"))
    address = f"127.0.0.1:{port}"
    common = ["--num-cpus=1", "--node-ip-address=127.0.0.1", "--disable-usage-stats"]
    try:
        ray_command(
            "start", "--head", f"--port={port}", "--include-dashboard=false",
            f"--temp-dir={nodes_dir / 'tmp'}", *common, cwd=nodes_dir, credentials=credentials,
        )  # fmt: skip
        ray_command("start", f"--address={address}", *common, cwd=nodes_dir, credentials=credentials)
        yield address
    finally:
        subprocess.run(
            [os.path.join(os.path.dirname(sys.executable), "ray"), "stop", "--force"],
            env=ray_env(nodes_dir, credentials),
            capture_output=True,
            timeout=RAY_START_TIMEOUT_S,
        )
        shutil.rmtree(nodes_dir, ignore_errors=True)


def driver_project(target: Path) -> Path:
    """The code and config a user has on the machine that launches the sweep."""
    for name in ("pipeline", "conf"):
        shutil.copytree(ROOT / name, target / name, ignore=shutil.ignore_patterns("__pycache__"))
    return target


@pytest.mark.slow  # minutes of real processes: CI runs it (make test-slow)
def test_a_sweep_runs_on_two_ray_nodes_and_records_runs_and_models_on_the_team_server(
    ray_cluster, team_server, tmp_path, monkeypatch, record_runs
):
    url, served_artifacts = team_server.url, team_server.artifacts
    project = driver_project(tmp_path / "driver")
    command = [
        sys.executable,
        "-m",
        "pipeline.run",
        "-m",
        "optimizer=sgd,adam",
        "model.initializer=glorot_uniform,he_normal",
        "training.epochs=3",
        "hydra/launcher=ray",
        f"hydra.launcher.ray.init.address={ray_cluster}",
        f"tracking.uri={url}",
        "tracking.experiment=ray-sweep",
    ]
    started = time.monotonic()
    done = subprocess.run(
        command,
        cwd=project,
        env=ray_env(project, team_server.credentials()),
        capture_output=True,
        text=True,
        timeout=600,
    )
    seconds = time.monotonic() - started
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    print(f"4-job sweep on the 2-node Ray cluster: {seconds:.1f} s wall")

    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)  # the test reads as the server's admin
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", team_server.admin_password)
    client = mlflow.MlflowClient(url)
    runs = client.search_runs([client.get_experiment_by_name("ray-sweep").experiment_id])
    jobs = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    record_runs(5, sum(1 for r in runs if r.info.status == "FINISHED"))  # the parent, a child per job
    assert len(runs) == 5 and len(jobs) == 4  # the parent and one child per job
    assert all(r.info.status == "FINISHED" for r in runs)
    assert {r.info.user_id for r in runs} == {"alice"}  # the member's account, on every node
    assert sorted((r.data.params["optimizer.name"], r.data.params["model.initializer"]) for r in jobs) == [
        ("adam", "glorot_uniform"),
        ("adam", "he_normal"),
        ("sgd", "glorot_uniform"),
        ("sgd", "he_normal"),
    ]
    nodes = {r.data.tags["ray_node_id"] for r in jobs}
    assert len(nodes) == 2, f"all jobs ran on {nodes}"
    for run in jobs:  # each job's model was uploaded to the server and loads from it
        logged = client.get_logged_model(run.data.tags["model_uri"].rsplit("/", 1)[-1])
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=logged.artifact_location, tracking_uri=url, dst_path=str(tmp_path / run.info.run_id)
        )
        assert mlflow.pyfunc.load_model(local).metadata.signature is not None
    assert len(list(served_artifacts.rglob("model.keras"))) == 4
    # The jobs wrote their outputs on the workers' copies: nothing landed in the driver's folder.
    assert not list(project.rglob("job.json"))
    # The comparison, made on the driver from the server's records, lists every job.
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    assert parent.data.metrics["jobs"] == 4 and parent.data.metrics["jobs_failed"] == 0
    # The same seed gives the same numbers on a Ray worker as in a single run here.
    single = tmp_path / "single"
    alone = [sys.executable, "-m", "pipeline.run", "optimizer=adam", "model.initializer=he_normal"]
    alone += ["training.epochs=3", "tracking.enabled=false", f"hydra.run.dir={single}"]
    subprocess.run(alone, cwd=project, env=ray_env(project, {}), check=True, capture_output=True, timeout=300)
    here = json.loads((single / "metrics.json").read_text())
    ray_job = next(
        r
        for r in jobs
        if r.data.params["optimizer.name"] == "adam" and r.data.params["model.initializer"] == "he_normal"
    )
    for split in ("train", "validation", "test"):
        assert ray_job.data.metrics[f"{split}_mse_scaled"] == here[split]["scaled"]["mse"], split
    secret = team_server.member_password
    for path in [p for p in project.rglob("*") if p.is_file() and ".home" not in p.parts]:
        assert secret.encode() not in path.read_bytes(), f"{path} holds the password"
    assert secret not in done.stdout + done.stderr
