"""In-process end-to-end tests: keep every side effect inside the test's tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run from tmp_path (MLflow puts a SQLite store's artifacts under ./mlruns), and forget
    any process-wide MLflow tracking URI a run set, so the next test uses its own store."""
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    import sys

    if "mlflow" in sys.modules:
        import mlflow

        mlflow.set_tracking_uri(None)
