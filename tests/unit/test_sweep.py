"""The sweep callback's decisions: which jobs failed, and which tracking a remote launcher needs."""

from __future__ import annotations

import shutil

from pipeline.config import TrackingConfig
from pipeline.prepare import ensure_prepared
from pipeline.sweep import failed_children, remote_tracking_error
from pipeline.tracking import RunSummary

RAY = "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher"
JOBLIB = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"


def tracking(**fields) -> TrackingConfig:
    return TrackingConfig(experiment="e", run_name="r", **fields)


def run(run_id: str, status_tag: str, error: str | None = None) -> RunSummary:
    tags = {"run_status": status_tag} | ({"error": error} if error else {})
    return RunSummary(run_id, f"job-{run_id}", "FAILED", {}, {}, tags, 0)


def test_a_ray_sweep_must_record_to_a_tracking_server():
    assert "tracking.uri is unset" in remote_tracking_error(RAY, tracking())
    assert "sqlite:///x.db" in remote_tracking_error(RAY, tracking(uri="sqlite:///x.db"))
    assert remote_tracking_error(RAY, tracking(uri="http://127.0.0.1:5000")) is None
    assert remote_tracking_error(RAY, tracking(uri="https://mlflow.example")) is None
    assert remote_tracking_error(RAY, tracking(enabled=False)) is None


def test_local_launchers_may_use_the_local_store():
    assert remote_tracking_error(JOBLIB, tracking()) is None
    assert remote_tracking_error("None", tracking()) is None


def test_failed_jobs_come_from_job_files_and_from_runs_that_ran_elsewhere():
    records = [
        {"job": "0", "status": "failed", "run_id": "a", "error": "boom", "overrides": ["x=1"]},
        {"job": "1", "status": "finished", "run_id": "b"},
    ]
    runs = [run("a", "failed", "boom"), run("c", "killed"), run("d", "diverged"), run("e", "failed", "oops")]
    failed = failed_children(runs, records)
    assert [f["run_id"] for f in failed] == ["a", "c", "e"]  # a counted once; diverged is a result
    assert failed[2]["error"] == "oops" and failed[2]["job"] == "job-e"


def test_a_worker_without_the_source_file_uses_the_prepared_data_it_received(make_config, tmp_path):
    source = tmp_path / "houses.csv"
    source.write_text("a,b,y\n" + "".join(f"{i},{i % 7},{i * 2 % 11}\n" for i in range(60)))
    cfg = make_config("dataset=csv", f"dataset.path={source}", "dataset.target=y")
    prepared = ensure_prepared(cfg)  # the driver, with the file
    shipped = tmp_path / "elsewhere.csv"
    shutil.move(source, shipped)  # the worker has the prepared data, not the file
    assert ensure_prepared(cfg) == prepared
