"""Run `python -m pipeline.run -m ...` sweeps as a user would, with everything in a tmp folder.

Each sweep is a subprocess started from the project root (Hydra reads `conf/` there), with
the project's virtualenv first on PATH and overrides that send every path it writes (the
MLflow store and artifacts, the prepared-data cache, the sweep folder) into a private
folder. Results are read back the way a user reads them: the MLflow store through
`MlflowClient`, and the comparison files in the sweep folder.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import subprocess
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
EXPERIMENT = "keras-regression"
PARENT_TAG = "mlflow.parentRunId"
SWEEP_TAG = "sweep_name"
SWEEP_TIMEOUT_S = 900
DECOY_DB = "decoy-env-store.db"  # $MLFLOW_TRACKING_URI's store: tracking.uri must win over it

# Every key of conf/paths/default.yaml a sweep job could write to, relative to the tmp folder.
PATH_KEYS = yaml.safe_load((ROOT / "conf" / "paths" / "default.yaml").read_text(encoding="utf-8"))


def command_env(extra: dict[str, str] | None = None, drop: Sequence[str] = ()) -> dict[str, str]:
    """The environment of a command: the venv first, no telemetry; no TF_CPP_MIN_LOG_LEVEL
    (the Makefile exports it): the commands quiet TensorFlow themselves (pipeline.core.quiet)."""
    env = dict(os.environ)
    for name in ("PYTHONPATH", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "TF_CPP_MIN_LOG_LEVEL", *drop):
        env.pop(name, None)
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        MLFLOW_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.update(extra or {})
    return env


def hydra_value(value: str | Path) -> str:
    """A path as a Hydra override value: as is when plain, else quoted (`=`, `,`, spaces...)."""
    text = str(value)
    if re.fullmatch(r"[A-Za-z0-9/_.:+-]+", text):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass
class Sweep:
    """One finished sweep: its exit, its output, its folder and its private MLflow store."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    store: Path
    seconds: float
    uri: str = field(init=False)
    sweep_dir: Path = field(init=False)

    def __post_init__(self) -> None:
        self.uri = f"sqlite:///{self.store / 'mlflow.db'}"
        self.sweep_dir = self.store / "sweep"

    def output(self, chars: int = 6000) -> str:
        """The tail of the command's output, for assertion messages."""
        return (
            f"`{' '.join(self.args)}` exited {self.returncode} after {self.seconds:.0f}s\n"
            f"--- stdout (tail) ---\n{self.stdout[-chars:]}\n--- stderr (tail) ---\n{self.stderr[-chars:]}"
        )

    def client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(self.uri)

    def all_runs(self) -> list[Any]:
        client = self.client()
        experiment = client.get_experiment_by_name(EXPERIMENT)
        assert experiment is not None, f"no MLflow experiment {EXPERIMENT!r} in {self.uri}\n{self.output()}"
        runs = client.search_runs([experiment.experiment_id], max_results=1000)
        return sorted(runs, key=lambda r: r.info.start_time)

    def parent(self) -> Any:
        """The sweep's one parent run (the run tagged `sweep_name`)."""
        parents = [r for r in self.all_runs() if SWEEP_TAG in r.data.tags]
        assert len(parents) == 1, (
            f"expected one sweep parent run, found {[r.info.run_name for r in parents]}\n{self.output()}"
        )
        return parents[0]

    def children(self) -> list[Any]:
        """The job runs of the sweep: the runs whose parent is the sweep's parent run."""
        parent_id = self.parent().info.run_id
        return [r for r in self.all_runs() if r.data.tags.get(PARENT_TAG) == parent_id]

    def comparison_rows(self) -> list[dict[str, str]]:
        path = self.sweep_dir / "comparison" / "comparison.csv"
        assert path.is_file(), f"{path} was not written\n{self.output()}"
        with path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    def comparison_md(self) -> str:
        path = self.sweep_dir / "comparison" / "comparison.md"
        assert path.is_file(), f"{path} was not written\n{self.output()}"
        return path.read_text(encoding="utf-8")

    def artifact_paths(self, run_id: str, folder: str | None = None) -> set[str]:
        return {a.path for a in self.client().list_artifacts(run_id, folder)}


def command_pool() -> ThreadPoolExecutor:
    """A pool that runs a module's commands two at a time (one at a time on one core). Each
    command is mostly one busy process (importing TensorFlow, composing, recording), so on a
    2-core machine two of them overlap well. Shut it down with `cancel_futures=True`."""
    return ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1)), thread_name_prefix="command")


def sweep_overrides(store: Path) -> list[str]:
    """Overrides that keep everything a sweep writes inside `store`."""
    paths = [f"paths.{key}={hydra_value(store / rel)}" for key, rel in PATH_KEYS.items()]
    return [
        f"tracking.uri={hydra_value('sqlite:///' + str(store / 'mlflow.db'))}",
        *paths,
        f"hydra.sweep.dir={hydra_value(store / 'sweep')}",
    ]


def create_store(store: Path) -> str:
    """Create the private MLflow store before a sweep, from inside `store`.

    MLflow gives a new SQLite store a "Default" experiment whose artifacts go to ./mlruns of
    the creating process; created here, anything misrouted there stays in the tmp folder
    (where `assert_models_in_store` finds it) instead of the project's root.
    """
    from mlflow import MlflowClient

    store.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{store / 'mlflow.db'}"
    with contextlib.chdir(store):
        MlflowClient(uri).search_experiments()
    return uri


def run_sweep(
    store: Path,
    *overrides: str,
    env: dict[str, str] | None = None,
    timeout: float = SWEEP_TIMEOUT_S,
) -> Sweep:
    """`python -m pipeline.run -m OVERRIDES...` from the project root, writing into `store`.

    $MLFLOW_TRACKING_URI points at a decoy store beside it, so a job that ignored
    `tracking.uri` could never write into the project's own mlflow.db.
    """
    create_store(store)
    decoy = f"sqlite:///{store / DECOY_DB}"
    args = ["python", "-m", "pipeline.run", "-m", *overrides, *sweep_overrides(store)]
    started = time.monotonic()
    result = subprocess.run(
        args,
        cwd=ROOT,
        env=env or command_env({"MLFLOW_TRACKING_URI": decoy}),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Sweep(args, result.returncode, result.stdout, result.stderr, store, time.monotonic() - started)


def assert_parent_report(sweep: Sweep, sweep_name: str, status: str = "FINISHED") -> Any:
    """The parent run: tagged with the preset, ended with `status`, the comparison logged on it."""
    decoy = sweep.store / DECOY_DB
    assert not decoy.exists(), "a job wrote to $MLFLOW_TRACKING_URI's store, not tracking.uri's"
    parent = sweep.parent()
    assert parent.data.tags[SWEEP_TAG] == sweep_name, parent.data.tags
    assert parent.info.status == status, f"parent run {parent.info.run_name}: {parent.info.status}"
    logged = sweep.artifact_paths(parent.info.run_id, "comparison")
    for name in ("comparison.md", "comparison.csv", "learning_curves.png"):
        assert f"comparison/{name}" in logged, f"parent run lacks comparison/{name}: {sorted(logged)}"
    for name in ("comparison.md", "comparison.csv", "learning_curves.png", "metric_vs_param.png"):
        path = sweep.sweep_dir / "comparison" / name
        assert path.is_file() and path.stat().st_size > 0, f"{path} missing or empty"
    return parent


def run_command_checked(
    args: Sequence[str], env: dict[str, str], cwd: Path = ROOT, timeout: float = 600, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a command; with `check`, a non-zero exit fails the test showing its output."""
    import pytest

    result = subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        pytest.fail(
            f"`{' '.join(args)}` exited {result.returncode} in {cwd}\n"
            f"--- stdout (tail) ---\n{result.stdout[-6000:]}\n--- stderr (tail) ---\n{result.stderr[-6000:]}"
        )
    return result


def assert_models_in_store(sweep: Sweep, runs: list[Any]) -> None:
    """Each run's logged model belongs to the run's experiment and lies in paths.mlflow_artifacts."""
    client = sweep.client()
    artifacts = (sweep.store / "mlartifacts").resolve().as_uri() + "/"
    for run in runs:
        model_uri = run.data.tags.get("model_uri", "")
        assert model_uri.startswith("models:/"), (run.info.run_name, run.data.tags)
        model = client.get_logged_model(model_uri.removeprefix("models:/"))
        assert model.source_run_id == run.info.run_id, model
        where = (model.experiment_id, model.artifact_location)
        assert where[0] == run.info.experiment_id and where[1].startswith(artifacts), (
            f"run {run.info.run_name} (experiment {run.info.experiment_id}): its model was logged "
            f"in experiment {where[0]} at {where[1]}, not under paths.mlflow_artifacts {artifacts}"
        )
        assert (Path(where[1].removeprefix("file://")) / "MLmodel").is_file(), where
