"""`dvc repro` end to end in a private copy of the project (diabetes data, 3 epochs).

One module-scoped `dvc repro` feeds the read-only checks; the last test then shows that an
unchanged pipeline is not rerun and that a training-only change reruns only train + evaluate.
"""

from __future__ import annotations

import json
import math
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from own_lines import foreign_lines

from pipeline.core.config import flatten
from pipeline.core.io import md5_file

STAGES = ("ingest", "normalize", "split", "train", "evaluate")
DATA_STAGES = ("ingest", "normalize", "split")
TRAINING_STAGES = ("train", "evaluate")
PARTS = ("train", "validation", "test")
UNITS = ("scaled", "original")
METRIC_NAMES = ("mse", "rmse", "mae", "r2")
LOGGED_PARAMS = (
    "dataset.name",
    "model.initializer",
    "optimizer.name",
    "optimizer.learning_rate",
    "training.epochs",
)


@dataclass
class Reproduced:
    """What the first `dvc repro` left behind (snapshots: a later test changes the workspace)."""

    project: Any  # conftest.Project
    head: str
    output: str
    stderr: str
    params: dict[str, Any]
    metrics: dict[str, Any]
    manifest: dict[str, Any]
    scaler: dict[str, Any]
    predictions: pd.DataFrame
    history: pd.DataFrame
    train_md5: str
    runs: list[Any]

    @property
    def run(self) -> Any:
        return self.runs[0]


@pytest.fixture(scope="module")
def reproduced(project_factory: Any) -> Reproduced:
    project = project_factory("dvc-pipeline")
    head = project.head()
    result = project.run("dvc", "repro")
    repo = project.path
    return Reproduced(
        project=project,
        head=head,
        output=result.stdout + result.stderr,
        stderr=result.stderr,
        params=yaml.safe_load((repo / "params.yaml").read_text()),
        metrics=json.loads((repo / "reports" / "metrics.json").read_text()),
        manifest=json.loads((repo / "data" / "processed" / "manifest.json").read_text()),
        scaler=json.loads((repo / "data" / "processed" / "scaler.json").read_text()),
        predictions=pd.read_csv(repo / "reports" / "predictions.csv"),
        history=pd.read_csv(repo / "reports" / "history.csv"),
        train_md5=md5_file(repo / "data" / "processed" / "train.parquet"),
        runs=project.runs(),
    )


def test_repro_runs_every_stage_and_records_one_finished_run(reproduced: Reproduced) -> None:
    for stage in STAGES:
        assert f"Running stage '{stage}'" in reproduced.output
    assert (reproduced.project.path / "dvc.lock").is_file()
    assert len(reproduced.runs) == 1, [r.info.run_id for r in reproduced.runs]
    assert reproduced.run.info.status == "FINISHED"
    assert foreign_lines(reproduced.stderr) == [], reproduced.stderr  # no TensorFlow or absl line


def test_run_params_are_the_composed_config(reproduced: Reproduced) -> None:
    composed = flatten(reproduced.params)
    logged = reproduced.run.data.params
    for key in LOGGED_PARAMS:
        assert key in logged, f"param {key} not logged; got {sorted(logged)}"
        value = composed[key]
        assert logged[key] == str(value), (key, logged[key], value)
    assert logged["training.epochs"] == "3"  # the copy's shrunk config, not the project's


def test_every_epoch_is_recorded_once(reproduced: Reproduced) -> None:
    client = reproduced.project.client()
    run_id = reproduced.run.info.run_id
    epochs = int(reproduced.params["training"]["epochs"])
    expected_steps = list(range(epochs + 1))  # epoch 0, the start, then every epoch
    for name in ("train_loss", "val_loss", "learning_rate"):
        history = sorted(client.get_metric_history(run_id, name), key=lambda m: m.step)
        assert [m.step for m in history] == expected_steps, name
        assert all(math.isfinite(m.value) for m in history), name
    lr = client.get_metric_history(run_id, "learning_rate")
    assert all(m.value == pytest.approx(reproduced.params["optimizer"]["learning_rate"]) for m in lr)

    # The learning curve DVC plots is the one MLflow recorded.
    val_loss = sorted(client.get_metric_history(run_id, "val_loss"), key=lambda m: m.step)
    assert reproduced.history["epoch"].tolist() == expected_steps
    # history.csv keeps 4 significant digits (TABLE_DIGITS); MLflow the whole value
    np.testing.assert_allclose(reproduced.history["val_loss"], [m.value for m in val_loss], rtol=5e-4)


def test_final_metrics_match_the_metrics_file(reproduced: Reproduced) -> None:
    logged = reproduced.run.data.metrics
    for name in ("test_mse_scaled", "test_rmse_original", "validation_r2_original"):
        assert name in logged, f"{name} missing; logged {sorted(logged)}"
    for part in PARTS:
        for units in UNITS:
            for metric in METRIC_NAMES:
                name = f"{part}_{metric}_{units}"
                # metrics.json keeps 6 significant digits (METRIC_DIGITS); MLflow the whole value
                assert logged[name] == pytest.approx(reproduced.metrics[part][units][metric], rel=5e-6)


def test_metrics_file_has_every_partition_in_both_units(reproduced: Reproduced) -> None:
    metrics = reproduced.metrics
    for part in PARTS:
        for units in UNITS:
            values = metrics[part][units]
            assert set(METRIC_NAMES) <= set(values), (part, units, values)
            assert all(math.isfinite(values[m]) for m in METRIC_NAMES), (part, units, values)
            assert values["rmse"] == pytest.approx(math.sqrt(values["mse"]), rel=1e-5)  # 6 digits each
    # Scaled errors are in units of the training target's standard deviation.
    std = reproduced.scaler["target"]["std"]
    assert std > 1.0  # the diabetes target spreads over tens: the two units differ
    for part in PARTS:
        original = metrics[part]["original"]
        assert original["rmse"] == pytest.approx(metrics[part]["scaled"]["rmse"] * std, rel=1e-5)
        assert original["r2"] == pytest.approx(metrics[part]["scaled"]["r2"], rel=1e-5)


def test_tracked_reports_keep_the_digits_cpus_agree_on(reproduced: Reproduced) -> None:
    # README "Same inputs, same outputs": 6 significant digits of a metric, 4 of a per-epoch
    # value or a prediction, so that another CPU's last digits rarely reach the git-tracked
    # reports; the MLflow run keeps the whole values.
    def longer(values: Any, digits: int) -> list[float]:
        return [v for v in values if float(f"{v:.{digits}g}") != pytest.approx(v, rel=1e-12, abs=0)]

    metrics = [v for v in flatten(reproduced.metrics).values() if isinstance(v, float)]
    assert len(metrics) >= len(PARTS) * len(UNITS) * len(METRIC_NAMES) and longer(metrics, 6) == []
    assert longer(reproduced.history.drop(columns="epoch").to_numpy(float).ravel(), 4) == []
    assert longer(reproduced.predictions["predicted"], 4) == []
    assert longer(reproduced.run.data.metrics.values(), 6) != []  # whole in MLflow


def test_run_has_config_dataset_input_and_lineage_tags(reproduced: Reproduced, tmp_path: Path) -> None:
    client = reproduced.project.client()
    run = client.get_run(reproduced.run.info.run_id)

    artifacts = [a.path for a in client.list_artifacts(run.info.run_id)]
    assert "config.yaml" in artifacts, artifacts
    downloaded = client.download_artifacts(run.info.run_id, "config.yaml", str(tmp_path))
    config = yaml.safe_load(Path(downloaded).read_text())
    assert config["optimizer"]["name"] == reproduced.params["optimizer"]["name"]
    assert config["training"]["epochs"] == reproduced.params["training"]["epochs"]

    inputs = run.inputs.dataset_inputs
    assert inputs, "no dataset input recorded"
    assert any(i.dataset.name == reproduced.params["dataset"]["name"] for i in inputs), [
        i.dataset.name for i in inputs
    ]

    tags = run.data.tags
    assert tags.get("git_commit") == reproduced.head
    assert tags.get("mlflow.source.git.commit") == reproduced.head  # the run page's Source
    assert tags.get("mlflow.source.name") == "python -m pipeline.stages.train"
    assert tags.get("data.train_md5") == reproduced.manifest["md5"]["train"]
    assert tags["data.train_md5"] == reproduced.train_md5  # the file the manifest describes
    assert tags.get("model_uri"), "no model_uri tag"


@contextmanager
def mlflow_tracking_uri(uri: str) -> Any:
    """Point the fluent MLflow API at `uri` for the block, then forget it again."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    try:
        yield mlflow
    finally:
        mlflow.set_tracking_uri(None)


def test_logged_model_predicts_raw_rows_in_original_units(reproduced: Reproduced) -> None:
    repo = reproduced.project.path
    target = reproduced.params["dataset"]["target"]
    raw = pd.read_csv(repo / "data" / "raw" / "data.csv", sep=reproduced.params["dataset"]["separator"])
    with mlflow_tracking_uri(reproduced.project.tracking_uri) as mlflow:
        model = mlflow.pyfunc.load_model(reproduced.run.data.tags["model_uri"])
        predicted = np.asarray(model.predict(raw.drop(columns=[target])), dtype="float64").reshape(-1)
        # The test partition's rows (all-numeric data: the encoded columns are the raw ones).
        test_rows = pd.read_parquet(repo / "data" / "processed" / "test.parquet")
        predicted_test = np.asarray(model.predict(test_rows.drop(columns=[target])), dtype="float64").reshape(
            -1
        )

    actual = raw[target].to_numpy(dtype="float64")
    assert predicted.shape == actual.shape
    assert np.isfinite(predicted).all()

    # Over every raw row, the error is the row-weighted mean of the partitions' errors in
    # metrics.json: the served model is the evaluated model, in the target's units.
    rows = reproduced.manifest["rows"]
    expected_mse = sum(rows[p] * reproduced.metrics[p]["original"]["mse"] for p in PARTS) / sum(rows.values())
    assert np.mean((predicted - actual) ** 2) == pytest.approx(expected_mse, rel=1e-3)

    evaluated = reproduced.predictions[reproduced.predictions["split"] == "test"]
    # predictions.csv keeps 4 significant digits of a predicted value
    np.testing.assert_allclose(predicted_test, evaluated["predicted"].to_numpy(), rtol=5e-4, atol=1e-3)
    np.testing.assert_allclose(test_rows[target].to_numpy(), evaluated["actual"].to_numpy())


def test_unchanged_pipeline_is_skipped_and_a_training_change_reruns_only_training(
    reproduced: Reproduced,
) -> None:
    project = reproduced.project
    first_run_id = reproduced.run.info.run_id

    again = project.run("dvc", "repro")
    output = again.stdout + again.stderr
    assert "Data and pipelines are up to date" in output, output
    assert "Running stage" not in output, output
    assert [r.info.run_id for r in project.runs()] == [first_run_id]

    project.run("git", "add", "-A")
    project.run("git", "commit", "-q", "-m", "lock the reproduced pipeline")
    status = project.run("dvc", "status")
    assert "Data and pipelines are up to date" in status.stdout, status.stdout
    assert project.run("git", "status", "--porcelain").stdout.strip() == ""

    experiment = project.run("dvc", "exp", "run", "-S", "optimizer=adam")
    output = experiment.stdout + experiment.stderr
    assert foreign_lines(experiment.stderr) == [], experiment.stderr
    for stage in DATA_STAGES:
        assert f"Running stage '{stage}'" not in output, output
        assert f"Stage '{stage}' didn't change, skipping" in output, output
    for stage in TRAINING_STAGES:
        assert f"Running stage '{stage}'" in output, output

    runs = project.runs()
    assert len(runs) == 2, [r.info.run_id for r in runs]
    new = next(r for r in runs if r.info.run_id != first_run_id)
    assert new.info.status == "FINISHED"
    assert new.data.params["optimizer.name"] == "adam"
    assert reproduced.run.data.params["optimizer.name"] == "sgd"
    adam = yaml.safe_load((project.path / "params.yaml").read_text())["optimizer"]
    assert new.data.params["optimizer.learning_rate"] == str(adam["learning_rate"])
    assert new.data.tags["data.train_md5"] == reproduced.run.data.tags["data.train_md5"]

    shown = json.loads(project.run("dvc", "exp", "show", "--json").stdout)
    experiments = [
        rev for entry in shown for exp in (entry.get("experiments") or []) for rev in exp.get("revs", [])
    ]
    optimizers = [rev["data"]["params"]["params.yaml"]["data"]["optimizer"]["name"] for rev in experiments]
    assert optimizers == ["adam"], optimizers
    # The experiment's metrics must be readable from the experiment itself (not only from
    # the workspace): that is what `dvc exp show` and `dvc metrics diff` compare.
    shown_metrics = experiments[0]["data"]["metrics"]["reports/metrics.json"]
    assert "data" in shown_metrics, (
        f"dvc exp show cannot read the experiment's reports/metrics.json: {shown_metrics}"
    )
    assert shown_metrics["data"]["test"]["scaled"]["mse"] == pytest.approx(
        new.data.metrics["test_mse_scaled"], rel=5e-6
    )
