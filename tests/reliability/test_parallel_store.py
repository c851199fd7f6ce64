"""N jobs at once against one SQLite store: every run recorded, and counted.

Each job is a separate Python process recording through the project's tracking code
(`tracked_job.py`: `tracked_run` and its RunRecorder, as `pipeline.run` uses them, without
the training). The store is either prepared first, as a sweep's callback does before its
jobs start, or brand new, as when a user starts several `python -m pipeline.run` at once
on a fresh clone (MLflow creates and migrates it on first use: before 8bcbddc, jobs racing
on that crashed with a traceback and lost their runs, 3 of 4 here).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from reliability_helpers import ROOT, store_runs, subprocess_env

JOBS = 4
JOB = Path(__file__).with_name("tracked_job.py")


def run_jobs(uri: str, folder: Path) -> list[subprocess.CompletedProcess[str]]:
    started = [
        subprocess.Popen(
            [sys.executable, str(JOB), uri, f"job-{n}", str(folder / f"job-{n}")],
            cwd=ROOT,
            env=subprocess_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(JOBS)
    ]
    done = []
    for process in started:
        stdout, stderr = process.communicate(timeout=300)
        done.append(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
    return done


def assert_every_run_recorded(uri: str, jobs: list[subprocess.CompletedProcess[str]], record_runs) -> None:
    runs = store_runs(uri)
    record_runs(JOBS, len(runs))
    failures = [job.stderr[-1500:] for job in jobs if job.returncode != 0]
    assert not failures, failures[0]
    assert sorted(r.info.run_name for r in runs) == [f"job-{n}" for n in range(JOBS)]
    assert all(r.info.status == "FINISHED" and r.data.tags["epochs_run"] == "3" for r in runs)
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    for run in runs:
        steps = sorted(m.step for m in client.get_metric_history(run.info.run_id, "val_loss"))
        assert steps == [1, 2, 3], run.info.run_name


def test_parallel_jobs_on_a_prepared_store_record_every_run(tmp_path: Path, record_runs) -> None:
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    MlflowClient(uri).create_experiment("keras-regression", artifact_location=(tmp_path / "art").as_uri())
    assert_every_run_recorded(uri, run_jobs(uri, tmp_path), record_runs)


def test_parallel_jobs_on_a_fresh_store_record_every_run(tmp_path: Path, record_runs) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert_every_run_recorded(uri, run_jobs(uri, tmp_path), record_runs)
