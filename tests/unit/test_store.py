"""Where runs are recorded: the project root and the tracking URI (pipeline.tracking.store)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.config import PathsConfig, TrackingConfig
from pipeline.tracking.store import project_root, resolve_tracking_uri


def tracking(uri: str | None = None) -> TrackingConfig:
    return TrackingConfig(uri=uri, experiment="keras-regression", run_name="run")


def paths(mlflow_db: str = "mlflow.db") -> PathsConfig:
    names = [name for name in PathsConfig.model_fields if name != "mlflow_db"]
    return PathsConfig(mlflow_db=mlflow_db, **{name: name for name in names})


@pytest.mark.parametrize(
    ("cwd", "root"),
    [
        ("/x/repo/.dvc/tmp/exps/tmpabc/sub", "/x/repo"),
        ("/x/repo/.dvc/tmp/exps/tmpabc", "/x/repo"),
        ("/x/repo/.dvc/tmp/exps", "/x/repo"),
        ("/x/repo", "/x/repo"),
        ("/x/repo/src", "/x/repo/src"),
        ("/x/repo/.dvc/tmp", "/x/repo/.dvc/tmp"),
        ("/x/repo/.dvc/cache/exps/a", "/x/repo/.dvc/cache/exps/a"),
        ("/x/repo/dvc/tmp/exps/a", "/x/repo/dvc/tmp/exps/a"),
    ],
)
def test_project_root(cwd: str, root: str) -> None:
    assert project_root(Path(cwd)) == Path(root)


def test_project_root_defaults_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = tmp_path / "repo" / ".dvc" / "tmp" / "exps" / "tmp1234"
    job.mkdir(parents=True)
    monkeypatch.chdir(job)
    assert project_root() == (tmp_path / "repo").resolve()


def test_configured_uri_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////elsewhere.db")
    assert resolve_tracking_uri(tracking("http://host:5000"), paths()) == "http://host:5000"


def test_environment_uri_is_next(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://env-host:5000")
    assert resolve_tracking_uri(tracking(), paths(), root=Path("/x/repo")) == "http://env-host:5000"


@pytest.mark.parametrize("empty", [None, ""])
def test_default_is_an_absolute_sqlite_uri_at_the_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty: str | None
) -> None:
    if empty is None:
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    else:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", empty)
    uri = resolve_tracking_uri(tracking(empty), paths("mlflow.db"), root=tmp_path)
    assert uri == f"sqlite:///{(tmp_path / 'mlflow.db').resolve()}"
    assert uri.startswith("sqlite:////")  # three slashes, then an absolute path


def test_default_sqlite_uri_from_a_dvc_queue_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    job = tmp_path / "repo" / ".dvc" / "tmp" / "exps" / "tmpabc"
    job.mkdir(parents=True)
    monkeypatch.chdir(job)
    uri = resolve_tracking_uri(tracking(), paths("stores/mlflow.db"))
    assert uri == f"sqlite:///{(tmp_path / 'repo' / 'stores' / 'mlflow.db').resolve()}"


def test_absolute_database_path_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    db = tmp_path / "db" / "runs.db"
    uri = resolve_tracking_uri(tracking(), paths(str(db)), root=Path("/x/repo"))
    assert uri == f"sqlite:///{db.resolve()}"
