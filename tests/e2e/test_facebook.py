"""The UCI Facebook metrics data, end to end: the stages, then the course's exploding
gradients (unscaled target, plain SGD) against the scaled target that converges."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pipeline.core.files import part_file
from pipeline.data.normalize import normalize_folder
from pipeline.data.raw import ingest
from pipeline.data.split import split_folder
from pipeline.experiments.job import objective, run_job

EXPECTED_INPUTS = [
    "Page total likes",
    "Post Month",
    "Post Weekday",
    "Post Hour",
    "Paid",
    "Type_Link",
    "Type_Photo",
    "Type_Status",
    "Type_Video",
    "Category_1",
    "Category_2",
    "Category_3",
]


def facebook(make_config: Callable[..., Any], csv: Path, *overrides: str) -> Any:
    return make_config("dataset=facebook", f"dataset.path={csv}", *overrides)


def only_run(tracking_uri: str) -> Any:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert len(runs) == 1, [r.info.run_id for r in runs]
    return client, runs[0]


def all_metric_values(client: Any, run: Any) -> dict[str, list[float]]:
    return {
        name: [m.value for m in client.get_metric_history(run.info.run_id, name)] for name in run.data.metrics
    }


def test_stages_prepare_495_rows_and_12_model_inputs(
    make_config: Callable[..., Any], facebook_csv: Path, tmp_path: Path
) -> None:
    cfg = facebook(make_config, facebook_csv)
    raw, interim, processed = tmp_path / "raw", tmp_path / "interim", tmp_path / "processed"

    record = ingest(cfg.dataset, Path(cfg.paths.download_dir), raw)
    assert record["rows"] == 500
    assert len(record["columns"]) == 19

    schema = normalize_folder(cfg.dataset, raw, interim)
    assert schema["rows"] == 495  # rows with a blank cell dropped
    assert schema["target"] == "like"
    assert len(schema["encoded_features"]) == 12
    assert sorted(schema["encoded_features"]) == sorted(EXPECTED_INPUTS)

    sizes = split_folder(cfg.dataset, cfg.split, interim, processed)
    assert sum(sizes.values()) == 495
    assert all(sizes[part] > 0 for part in ("train", "validation", "test"))
    train = pd.read_parquet(processed / part_file("train"))
    assert len(train) == sizes["train"]
    assert train[EXPECTED_INPUTS].notna().all(axis=None)


def test_unscaled_target_with_sgd_diverges_and_is_recorded_as_failed(
    make_config: Callable[..., Any], facebook_csv: Path, tmp_path: Path, isolated_tracking: str
) -> None:
    cfg = facebook(
        make_config, facebook_csv, "training.scale_target=false", "optimizer=sgd", "training.epochs=100"
    )
    report = run_job(cfg, tmp_path / "job")
    assert report["status"] == "diverged"
    assert objective(report) == math.inf

    client, run = only_run(isolated_tracking)
    assert run.info.status == "FAILED"
    tags = run.data.tags
    assert tags.get("run_status") == "diverged"
    assert tags.get("diverged") == "true"
    assert tags.get("diverged_epoch") == "1"
    for name, values in all_metric_values(client, run).items():
        assert all(math.isfinite(v) for v in values), f"metric {name} has a non-finite value: {values}"


def test_scaled_target_converges(
    make_config: Callable[..., Any], facebook_csv: Path, tmp_path: Path, isolated_tracking: str
) -> None:
    cfg = facebook(make_config, facebook_csv, "optimizer=sgd", "training.epochs=100")
    report = run_job(cfg, tmp_path / "job")
    assert report["status"] == "finished"

    client, run = only_run(isolated_tracking)
    assert run.info.status == "FINISHED"
    assert run.data.tags.get("run_status") == "finished"
    metrics = run.data.metrics
    for name in ("val_mse", "validation_mse_scaled"):
        assert math.isfinite(metrics[name]), (name, metrics[name])
        assert metrics[name] < 1.5, (name, metrics[name])  # scaled target: 1.0 is predicting the mean
    assert objective(report) == pytest.approx(metrics["validation_mse_scaled"])
    for name, values in all_metric_values(client, run).items():
        assert all(math.isfinite(v) for v in values), f"metric {name} has a non-finite value: {values}"
