"""Where runs are recorded, and what of the config is recorded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.config import Config, PathsConfig, TrackingConfig
from pipeline.tracking import project_root, resolve_tracking_uri
from pipeline.train import recorded_params

MakeConfig = Callable[..., Config]


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


def with_uri(cfg: Config, uri: str | None) -> Config:
    return cfg.model_copy(update={"tracking": cfg.tracking.model_copy(update={"uri": uri})})


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("http://user:secret@host:5000", "http://***@host:5000"),
        ("https://user:secret@mlflow.example.com/path", "https://***@mlflow.example.com/path"),
        ("http://user:p@ss-secret@host:5000", "http://***@host:5000"),
    ],
)
def test_recorded_params_hide_credentials(make_config: MakeConfig, uri: str, shown: str) -> None:
    params = recorded_params(with_uri(make_config(), uri))
    assert params["tracking.uri"] == shown
    assert not any("secret" in str(value) for value in params.values())


@pytest.mark.parametrize("uri", [None, "http://host:5000", "sqlite:////tmp/mlflow.db"])
def test_recorded_params_keep_a_uri_without_credentials(make_config: MakeConfig, uri: str | None) -> None:
    assert recorded_params(with_uri(make_config(), uri))["tracking.uri"] == uri


def test_recorded_params_are_the_whole_config_dotted(make_config: MakeConfig) -> None:
    params = recorded_params(make_config("optimizer=adam"))
    assert params["optimizer.name"] == "adam"
    assert params["optimizer.learning_rate"] == 0.001
    assert params["optimizer.schedule.name"] == "none"
    assert params["model.hidden_units"] == [8]
    assert params["training.epochs"] == 5
    assert "dataset.name" in params and "split.seed" in params
