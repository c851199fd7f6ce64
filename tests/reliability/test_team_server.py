"""A team's tracking server for real: PostgreSQL behind `mlflow server --app-name basic-auth`,
the artifacts served. A member's credentials record everything and leak nowhere; a wrong
password ends in one line naming the server and the HTTP status, with nothing recorded."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest
from reliability_helpers import ROOT, error_line, subprocess_env
from team_server import ADMIN, TeamServer

pytestmark = pytest.mark.slow  # a PostgreSQL cluster and an MLflow server per module: make test-slow


def pipeline_run(server: TeamServer, *overrides: str, password: str | None = None, timeout: float = 600):
    env = subprocess_env(TF_CPP_MIN_LOG_LEVEL="2", **server.credentials(password))
    env.pop("MLFLOW_TRACKING_URI", None)
    command = [sys.executable, "-m", "pipeline.run", *overrides, f"tracking.uri={server.url}"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def admin_client(server: TeamServer, monkeypatch: pytest.MonkeyPatch) -> mlflow.MlflowClient:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", server.admin_password)
    return mlflow.MlflowClient(server.url)


def experiment_runs(client: mlflow.MlflowClient, name: str) -> list:
    experiment = client.get_experiment_by_name(name)
    return client.search_runs([experiment.experiment_id]) if experiment else []


def test_a_member_records_a_parallel_sweep_on_postgres_and_the_password_is_nowhere(
    team_server, tmp_path, path_overrides, record_runs, monkeypatch
):
    sweep_dir = tmp_path / "sweep"
    done = pipeline_run(
        team_server,
        "-m",
        "optimizer=sgd,adam",
        "training.epochs=3",
        "tracking.experiment=team",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        f"hydra.sweep.dir={sweep_dir}",
        *path_overrides,
    )
    client = admin_client(team_server, monkeypatch)
    runs = experiment_runs(client, "team")
    record_runs(3, len(runs))  # the parent and one child per job
    assert done.returncode == 0, done.stderr[-3000:]

    jobs = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(runs) == 3 and len(jobs) == 2
    assert all(r.info.status == "FINISHED" for r in runs)
    assert {r.info.user_id for r in runs} == {"alice"}  # recorded as the member, not anonymous
    for run in jobs:
        assert (
            len(client.get_metric_history(run.info.run_id, "val_loss")) == 1 + 3
        )  # the start, every epoch, once
        logged = client.get_logged_model(run.data.tags["model_uri"].rsplit("/", 1)[-1])
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=logged.artifact_location, tracking_uri=team_server.url, dst_path=str(tmp_path / "m")
        )
        assert mlflow.pyfunc.load_model(local).metadata.signature is not None
    assert len(list(team_server.artifacts.rglob("model.keras"))) == 2  # stored by the server

    secret = team_server.member_password
    for run in runs:
        assert not any(secret in v for v in [*run.data.params.values(), *run.data.tags.values()])
        folder = Path(client.download_artifacts(run.info.run_id, "", str(tmp_path / run.info.run_id)))
        for path in [p for p in folder.rglob("*") if p.is_file()]:
            assert secret.encode() not in path.read_bytes(), f"{path.name} of a run holds the password"
    for path in [p for p in sweep_dir.rglob("*") if p.is_file()]:  # Hydra's logs and configs
        assert secret.encode() not in path.read_bytes(), f"{path} holds the password"
    assert secret not in done.stdout + done.stderr


def test_a_members_single_run_says_where_it_went_and_the_password_is_nowhere(
    team_server, tmp_path, path_overrides, record_runs, monkeypatch
):
    """Credentials in the environment: every artifact the server holds, every file the run
    wrote and what it printed are searched for the password; the run's last lines name it and
    the server (MLflow's own `View run ... at:` lines are not printed)."""
    job = tmp_path / "job"
    overrides = ["training.epochs=2", "tracking.experiment=team-run", f"hydra.run.dir={job}"]
    done = pipeline_run(team_server, *overrides, *path_overrides)
    client = admin_client(team_server, monkeypatch)
    runs = experiment_runs(client, "team-run")
    record_runs(1, len(runs))
    assert done.returncode == 0, done.stderr[-3000:]
    (run,) = runs
    where = f"mlflow: run {run.info.run_name} {run.info.run_id} in experiment 'team-run' at {team_server.url}"
    assert where in done.stdout.splitlines() and "View run" not in done.stdout, done.stdout[-3000:]
    secret = team_server.member_password
    assert not any(secret in v for v in [*run.data.params.values(), *run.data.tags.values()])
    stored = [p for p in team_server.artifacts.rglob("*") if p.is_file()]
    assert any(p.name == "config.yaml" for p in stored)  # the run's artifacts are among them
    for path in [*stored, *(p for p in job.rglob("*") if p.is_file())]:
        assert secret.encode() not in path.read_bytes(), f"{path} holds the password"
    assert secret not in done.stdout + done.stderr


@pytest.mark.parametrize("sweep", [False, True], ids=["run", "sweep"])
def test_a_wrong_password_names_the_server_and_401_and_records_nothing(
    team_server, tmp_path, path_overrides, record_runs, monkeypatch, sweep
):
    experiment = f"refused-{'sweep' if sweep else 'run'}"
    args = ["-m", "optimizer=sgd,adam", f"hydra.sweep.dir={tmp_path / 'sweep'}"] if sweep else []
    done = pipeline_run(
        team_server,
        *args,
        "training.epochs=2",
        f"tracking.experiment={experiment}",
        f"hydra.run.dir={tmp_path / 'job'}",
        *path_overrides,
        password="not-the-password",
    )
    record_runs(0, 0)
    assert done.returncode != 0
    line = error_line(done.stderr)
    assert team_server.url in line and "HTTP 401" in line and "'alice'" in line, line
    assert "MLFLOW_TRACKING_PASSWORD" in line
    assert "not-the-password" not in done.stdout + done.stderr
    assert experiment_runs(admin_client(team_server, monkeypatch), experiment) == []


def test_a_server_restart_mid_sweep_loses_nothing_and_the_comparison_names_the_jobs_that_waited(
    team_server, tmp_path, path_overrides, record_runs, monkeypatch
):
    """The server is stopped while two jobs record, and started again 8 s later (within
    tracking.outage_grace_s): every job's run completes once it is back, no metric is
    recorded twice, and the runs that waited say so."""
    epochs, sweep_dir = 600, tmp_path / "sweep"
    env = subprocess_env(TF_CPP_MIN_LOG_LEVEL="2", **team_server.credentials())
    env.pop("MLFLOW_TRACKING_URI", None)
    overrides = [
        "optimizer=sgd,adam,rmsprop,momentum",
        f"training.epochs={epochs}",
        "tracking.experiment=outage",
    ]
    command = [sys.executable, "-m", "pipeline.run", "-m", *overrides, "hydra/launcher=joblib"]
    command += ["hydra.launcher.n_jobs=2", f"hydra.sweep.dir={sweep_dir}", f"tracking.uri={team_server.url}"]
    log = tmp_path / "sweep.log"
    with open(log, "w") as out:
        sweep = subprocess.Popen([*command, *path_overrides], cwd=ROOT, env=env, stdout=out, stderr=out)
    client = admin_client(team_server, monkeypatch)
    deadline = time.monotonic() + 300
    while sweep.poll() is None and time.monotonic() < deadline:  # until jobs are recording epochs
        recording = [r for r in experiment_runs(client, "outage") if r.data.metrics.get("val_loss")]
        if recording:
            break
        time.sleep(0.5)
    assert sweep.poll() is None, log.read_text()[-3000:]
    team_server.stop()
    time.sleep(8)
    team_server.start()
    code = sweep.wait(timeout=600)
    output = log.read_text()

    runs = experiment_runs(client, "outage")
    record_runs(5, len(runs))  # the parent and one child per job
    assert code == 0, output[-3000:]
    jobs = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(runs) == 5 and len(jobs) == 4
    assert all(r.info.status == "FINISHED" for r in runs), [(r.info.run_name, r.info.status) for r in runs]
    for run in jobs:  # every epoch once: a retried batch is not recorded twice
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "val_loss")]
        assert sorted(steps) == list(range(epochs + 1)), (run.info.run_name, len(steps))
    assert (
        len(list(team_server.artifacts.rglob("model.keras"))) >= 4 + 2
    )  # this sweep's 4, the first test's 2
    waited = [r for r in jobs if r.data.tags.get("tracking_retries")]
    assert waited, "no job recorded that it waited for the server"
    table = (sweep_dir / "comparison" / "comparison.csv").read_text()
    assert table.count("waited for the tracking server") == len(waited), table


def test_a_server_gone_for_good_ends_the_sweep_in_time_and_an_upload_sends_every_record_later(
    team_server, tmp_path, path_overrides, record_runs, monkeypatch
):
    """The server stops while two jobs record and does not come back: each job waits out
    tracking.outage_grace_s once, trains to the end with its outputs on disk and its record
    in unsent.jsonl; the sweep exits 1 with a line naming the server and the upload command.
    Once the server is back, that command completes every run, each epoch once."""
    epochs, grace, sweep_dir = 600, 5, tmp_path / "sweep"
    env = subprocess_env(TF_CPP_MIN_LOG_LEVEL="2", **team_server.credentials())
    env.pop("MLFLOW_TRACKING_URI", None)
    command = [sys.executable, "-m", "pipeline.run", "-m", "optimizer=sgd,adam", f"training.epochs={epochs}"]
    command += ["tracking.experiment=gone", f"tracking.outage_grace_s={grace}", "hydra/launcher=joblib"]
    command += ["hydra.launcher.n_jobs=2", f"hydra.sweep.dir={sweep_dir}", f"tracking.uri={team_server.url}"]
    log = tmp_path / "sweep.log"
    with open(log, "w") as out:
        sweep = subprocess.Popen([*command, *path_overrides], cwd=ROOT, env=env, stdout=out, stderr=out)
    client = admin_client(team_server, monkeypatch)
    deadline = time.monotonic() + 300
    while sweep.poll() is None and time.monotonic() < deadline:  # until both jobs record epochs
        runs = experiment_runs(client, "gone")
        if sum(1 for r in runs if r.data.metrics.get("val_loss")) == 2:
            break
        time.sleep(0.5)
    assert sweep.poll() is None, log.read_text()[-3000:]
    team_server.stop()
    stopped = time.monotonic()
    code = sweep.wait(timeout=600)
    took = time.monotonic() - stopped
    output = log.read_text()
    print(f"the sweep ended {took:.1f} s after its server stopped for good")

    assert code == 1, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    line = output.strip().splitlines()[-1]  # after a line per failed job, the sweep's own
    assert line.startswith("error: the sweep could not reach"), line
    assert team_server.url in line and f"python -m pipeline.upload {sweep_dir}" in line, line
    jobs = sorted(p.parent for p in sweep_dir.glob("*/job.json"))
    assert len(jobs) == 2
    for job in jobs:  # every finished job's outputs are on disk
        assert (job / "model" / "model.keras").is_file() and (job / "metrics.json").is_file()
        assert len((job / "history.csv").read_text().splitlines()) == 1 + 1 + epochs  # header, start, epochs
    # the jobs training when the server went kept their record (on a loaded machine one job may
    # have sent everything before the stop: its run is FINISHED already)
    kept = [job for job in jobs if (job / "unsent.jsonl").is_file()]
    assert kept, "no job kept its record"
    assert f"{len(kept)} job(s) kept their record" in line, line

    team_server.start()
    upload = subprocess.run(
        [sys.executable, "-m", "pipeline.upload", str(sweep_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert upload.returncode == 0, upload.stderr[-3000:]
    assert upload.stdout.count("sent ") == len(kept), upload.stdout
    runs = experiment_runs(client, "gone")
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    record_runs(2, sum(1 for r in children if r.info.status == "FINISHED"))
    assert len(children) == 2 and all(r.info.status == "FINISHED" for r in children), [
        (r.info.run_name, r.info.status) for r in children
    ]
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert parent.info.status == "FAILED" and "ended without ending the run" in parent.data.tags["error"]
    assert f"parent run {parent.info.run_id} marked FAILED" in upload.stdout  # none is left RUNNING
    for run in children:  # every epoch once, the model stored by the server
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "val_loss")]
        assert sorted(steps) == list(range(epochs + 1)), (run.info.run_name, len(steps))
        assert run.data.tags["model_uri"].startswith("models:/")
        assert "test_rmse_original" in run.data.metrics
    again = subprocess.run(
        [sys.executable, "-m", "pipeline.upload", str(sweep_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0 and "nothing to send" in again.stdout, again.stdout + again.stderr
