"""Helpers the reliability scenarios share (imported by name: this folder is on sys.path)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Outcome:
    """How an entry point ended: exit status, output, and the stage that failed (or ran last)."""

    code: int
    stdout: str
    stderr: str
    stage: str


def error_line(stderr: str) -> str:
    """The one user-facing line: exactly one `error:` line and no traceback."""
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, stderr
    return errors[0]


def store_runs(uri: str) -> list[Any]:
    """Every run in an MLflow store (none when its SQLite file was never created)."""
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        return []
    from mlflow import MlflowClient

    from pipeline.tracking.store import store_lock

    with store_lock(uri):  # a job may be creating the store right now: never migrate beside it
        client = MlflowClient(uri)
        experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(experiments) if experiments else []


def leftovers(folder: Path) -> list[str]:
    """Half-written stage output: temporary files or folders that atomic writes leave on failure."""
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*") if p.name != ".hydra")


def subprocess_env(**extra: str) -> dict[str, str]:
    """The test's environment (private MLflow store, telemetry off) with this venv first on PATH."""
    bin_dir = os.path.dirname(sys.executable)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", **extra}
