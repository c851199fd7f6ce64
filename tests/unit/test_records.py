"""What a run records beyond its metrics (pipeline.tracking.records): the config as params,
the training data as the run's dataset input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from pipeline.core.config import Config
from pipeline.tracking.recorder import tracked_run
from pipeline.tracking.records import log_training_data, number_metrics, recorded_params

MakeConfig = Callable[..., Config]


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


class RacingClient:
    """MLflow's client, where another job inserted the same dataset first `losses` times."""

    def __init__(self, losses: int, message: str) -> None:
        self.client: Any = None
        self.losses, self.message, self.calls = losses, message, 0

    def log_inputs(self, run_id: str, datasets: list[Any]) -> None:
        self.calls += 1
        if self.calls <= self.losses:
            raise MlflowException(f"(sqlite3.IntegrityError) {self.message}")
        self.client.log_inputs(run_id, datasets=datasets)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def log_train_part(cfg: Config, folder: Path, racing: RacingClient | None = None) -> str:
    """A run whose training dataset input is a small partition file, sent through `racing`."""
    part = folder / "train.parquet"
    pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [3.0, 4.0, 5.0]}).to_parquet(part, index=False)
    with tracked_run(cfg.tracking, cfg.paths) as recorder:
        if racing is not None:
            racing.client, recorder.client = recorder.client, racing
        log_training_data(recorder, part, "data", "y")
    return recorder.run_id


def test_the_training_partition_is_the_runs_dataset_input(make_config, tmp_path, store) -> None:
    run_id = log_train_part(make_config(), tmp_path)
    (dataset_input,) = MlflowClient(store).get_run(run_id).inputs.dataset_inputs
    assert dataset_input.dataset.name == "data"
    assert str((tmp_path / "train.parquet").resolve()) in dataset_input.dataset.source
    assert [(t.key, t.value) for t in dataset_input.tags] == [("mlflow.data.context", "training")]


def test_a_dataset_record_that_loses_a_race_with_another_job_is_sent_again(
    make_config, tmp_path, store
) -> None:
    """Jobs of a sweep record the same dataset at once: the store looks it up, finds nothing,
    all insert it, one wins and the others fail on its unique key (seen on a Ray cluster).
    Sent again, the store finds the winner's row and links it."""
    racing = RacingClient(losses=2, message="UNIQUE constraint failed: datasets.digest")
    run_id = log_train_part(make_config(), tmp_path, racing)
    assert racing.calls == 3
    assert len(MlflowClient(store).get_run(run_id).inputs.dataset_inputs) == 1


def test_other_dataset_errors_are_not_retried(make_config, tmp_path, store) -> None:
    racing = RacingClient(losses=1, message="disk I/O error")
    with pytest.raises(MlflowException, match="disk I/O error"):
        log_train_part(make_config(), tmp_path, racing)
    assert racing.calls == 1


def test_numeric_settings_are_metrics_the_ui_can_sort(make_config: MakeConfig) -> None:
    overrides = ["model.hidden_units=[32,8]", "model.l2=[0.0,0.01,0.001]", "optimizer.learning_rate=0.003"]
    cfg = make_config(*overrides)
    numbers = number_metrics(cfg, param_count=425)
    assert numbers["optimizer.learning_rate"] == 0.003 and numbers["training.batch_size"] == 32
    assert (numbers["model.depth"], numbers["model.width"]) == (2.0, 32.0)
    assert (numbers["model.l1"], numbers["model.l2"]) == (0.0, 0.01)  # the largest of a per-layer list
    assert numbers["param_count"] == 425
    assert all(isinstance(v, float) for v in numbers.values())
    assert not any(k.startswith(("tracking.", "dataset.", "paths.")) for k in numbers)  # settings only
    assert "training.threads" not in numbers and "training.scale_target" not in numbers  # no how, no flags
