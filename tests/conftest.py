"""Shared fixtures: every test gets its own MLflow store and shrunk configs with tmp paths."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from pipeline.compose import compose_config
from pipeline.config import Config

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SHARED_DATA_DIR", ROOT.parent / "shared" / "data"))
FACEBOOK_CSV = SHARED_DATA / "dataset_Facebook.csv"
HOUSING_CSV = SHARED_DATA / "housing.csv"


@pytest.fixture(autouse=True)
def isolated_tracking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private SQLite MLflow store per test; no telemetry; fails a test that leaves a run open."""
    uri = f"sqlite:///{tmp_path / 'mlruns.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    yield uri
    import mlflow

    active = mlflow.active_run()
    if active is not None:
        mlflow.end_run()
        pytest.fail(f"the test left MLflow run {active.info.run_id} active")


def default_paths() -> dict[str, str]:
    """conf/paths/default.yaml: every path the project writes, relative to its root."""
    return yaml.safe_load((ROOT / "conf" / "paths" / "default.yaml").read_text(encoding="utf-8"))


def tmp_paths(tmp_path: Path) -> list[str]:
    """Overrides that point every configured path into `tmp_path`."""
    return [f"paths.{key}={tmp_path / value}" for key, value in default_paths().items()]


@pytest.fixture
def path_overrides(tmp_path: Path) -> list[str]:
    """`paths.*=...` overrides for a subprocess, every path inside tmp_path."""
    return tmp_paths(tmp_path)


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Config]:
    """Compose the real conf/ with overrides, shrunk (5 epochs) and with paths in tmp_path."""

    def make(*overrides: str) -> Config:
        return compose_config(
            ["training.epochs=5", *tmp_paths(tmp_path), *overrides], config_dir=ROOT / "conf"
        )

    return make


@pytest.fixture
def facebook_csv() -> Path:
    if not FACEBOOK_CSV.is_file():
        pytest.skip(f"{FACEBOOK_CSV} not present (the shared data sets live beside the repo)")
    return FACEBOOK_CSV


@pytest.fixture
def housing_csv() -> Path:
    if not HOUSING_CSV.is_file():
        pytest.skip(f"{HOUSING_CSV} not present (the shared data sets live beside the repo)")
    return HOUSING_CSV
