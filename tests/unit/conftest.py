"""Unit-test fixtures: a real SQLite MLflow store without paying for its creation each time."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def migrated_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow SQLite database, created and migrated once per session (seconds)."""
    from mlflow import MlflowClient

    database = tmp_path_factory.mktemp("template") / "mlruns.db"
    MlflowClient(f"sqlite:///{database}").search_experiments()
    return database


@pytest.fixture
def store(isolated_tracking: str, migrated_store: Path) -> str:
    """The test's own store (tests/conftest.py points MLFLOW_TRACKING_URI at it), as a copy of
    the migrated empty database; its URI."""
    shutil.copyfile(migrated_store, isolated_tracking.removeprefix("sqlite:///"))
    return isolated_tracking
