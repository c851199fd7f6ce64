"""A private, shrunk copy of the project (git + DVC repository) for tests that run real commands.

Nothing here writes into the project itself: each copy lives in a temporary folder, with its
own MLflow store (`$MLFLOW_TRACKING_URI`, outside the copy), its own DVC site cache, and the
project's virtualenv first on PATH so `dvc` and `python -m pipeline.*` are the project's.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
TRACKED_SOURCES = (
    "pipeline",
    "conf",
    "dvc.yaml",
    "params.yaml",
    "pyproject.toml",
    ".dvcignore",
    ".gitignore",
)
SHRUNK_EPOCHS = 3
COMMAND_TIMEOUT_S = 600


def subprocess_env(tracking_uri: str, scratch: Path) -> dict[str, str]:
    """The environment for commands run in a copy: the venv first, a private MLflow store."""
    env = dict(os.environ)
    # TF_CPP_MIN_LOG_LEVEL too (the Makefile exports it): the commands quiet TensorFlow themselves
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "PYTHONPATH", "TF_CPP_MIN_LOG_LEVEL"):
        env.pop(name, None)
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        MLFLOW_TRACKING_URI=tracking_uri,
        MLFLOW_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="1",
        DVC_NO_ANALYTICS="1",
        DVC_SITE_CACHE_DIR=str(scratch / "dvc-site-cache"),
        PYTHONDONTWRITEBYTECODE="1",
        GIT_TERMINAL_PROMPT="0",
    )
    return env


def run_command(
    args: Sequence[str], cwd: Path, env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a command; with `check`, a non-zero exit fails the test showing its output."""
    result = subprocess.run(
        list(args),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"`{' '.join(args)}` exited {result.returncode} in {cwd}\n"
            f"--- stdout (tail) ---\n{result.stdout[-6000:]}\n--- stderr (tail) ---\n{result.stderr[-6000:]}"
        )
    return result


def copy_project(dest: Path, env: dict[str, str], epochs: int = SHRUNK_EPOCHS) -> Path:
    """Copy the tracked sources into `dest`, make it a git + DVC repository, shrink training."""
    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in TRACKED_SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=ignore)
        else:
            shutil.copy2(source, dest / name)

    def sh(*args: str) -> None:
        run_command(args, dest, env)

    sh("git", "init", "-q")
    sh("git", "config", "user.name", "Pipeline Tests")
    sh("git", "config", "user.email", "pipeline-tests@example.invalid")
    sh("git", "config", "commit.gpgsign", "false")
    sh("dvc", "init", "-q")
    # `dvc init` writes an empty config: bring the project's (Hydra integration on) over it.
    shutil.copy2(ROOT / ".dvc" / "config", dest / ".dvc" / "config")
    sh("dvc", "config", "hydra.enabled", "True")
    sh("dvc", "config", "core.analytics", "false")
    sh("dvc", "config", "core.check_update", "false")

    training = dest / "conf" / "training" / "default.yaml"
    text, count = re.subn(r"(?m)^epochs:\s*\d+", f"epochs: {epochs}", training.read_text())
    assert count == 1, f"{training}: no top-level `epochs:` line to shrink"
    training.write_text(text)
    sh("python", "-m", "pipeline.compose")

    sh("git", "add", "-A")
    sh("git", "commit", "-q", "-m", "project copy for tests")
    return dest


@dataclass
class Project:
    """A copy of the project, its command environment and its MLflow store."""

    path: Path
    tracking_uri: str
    env: dict[str, str]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_command(args, self.path, self.env, check=check)

    def head(self) -> str:
        return self.run("git", "rev-parse", "HEAD").stdout.strip()

    def client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(self.tracking_uri)

    def runs(self) -> list[Any]:
        """Every MLflow run in the copy's store, oldest first."""
        client = self.client()
        experiments = [e.experiment_id for e in client.search_experiments()]
        if not experiments:
            return []
        runs = client.search_runs(experiments, order_by=["attributes.start_time ASC"])
        return sorted(runs, key=lambda r: r.info.start_time)


def tracking_uri_in(folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}"


def make_project(base: Path) -> Project:
    uri = tracking_uri_in(base / "tracking")
    env = subprocess_env(uri, base)
    return Project(copy_project(base / "repo", env), uri, env)


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """tmp_path/"repo": the project's tracked sources as a committed git + DVC repository,
    Hydra integration on, training shrunk to a few epochs and params.yaml recomposed."""
    return copy_project(tmp_path / "repo", subprocess_env(tracking_uri_in(tmp_path / "tracking"), tmp_path))


@pytest.fixture
def project(project_copy: Path, tmp_path: Path) -> Project:
    """`project_copy` with the environment and MLflow store its commands use."""
    uri = tracking_uri_in(tmp_path / "tracking")
    return Project(project_copy, uri, subprocess_env(uri, tmp_path))


@pytest.fixture(scope="module")
def project_factory(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Project]:
    """Module-scoped copies, for a costly pipeline run shared by several tests."""

    def make(name: str) -> Project:
        return make_project(tmp_path_factory.mktemp(name))

    return make
