"""Classifiers end to end: `dvc repro` on the binary breast-cancer data, a Hydra sweep on the
two moons, the digits served by `mlflow models serve`; every task through the real commands."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from sweep_helpers import assert_models_in_store, assert_parent_report, run_sweep
from test_serving import post

from pipeline.data.sources import breast_cancer_frame, digits_frame
from pipeline.experiments.job import run_job

PARTS = ("train", "validation", "test")
BINARY_METRICS = {"accuracy", "log_loss", "f1_macro", "roc_auc"}


@pytest.fixture(scope="module")
def classifier_repro(project_factory: Any) -> Any:
    """A project copy whose params say breast_cancer with Adam, reproduced with `dvc repro`."""
    project = project_factory("dvc-classifier")
    project.run(
        "python", "-m", "pipeline.compose", "dataset=breast_cancer", "optimizer=adam",
        "optimizer.learning_rate=0.01", "training.epochs=10",
    )  # fmt: skip
    project.run("dvc", "repro")
    return project


def test_dvc_repro_trains_and_evaluates_a_binary_classifier(classifier_repro: Any) -> None:
    repo = classifier_repro.path
    schema = json.loads((repo / "data" / "processed" / "schema.json").read_text())
    assert (schema["task"], schema["classes"]) == ("binary", ["benign", "malignant"])
    # stratified: each partition has the data's share of malignant rows (212 of 569)
    for part in PARTS:
        share = pd.read_parquet(repo / "data" / "processed" / f"{part}.parquet")["diagnosis"].mean()
        assert share == pytest.approx(212 / 569, abs=0.01), (part, share)

    metrics = json.loads((repo / "reports" / "metrics.json").read_text())
    assert metrics["task"] == "binary" and metrics["status"] == "finished"
    for part in PARTS:
        assert set(metrics[part]) == BINARY_METRICS, metrics[part]
    assert metrics["test"]["accuracy"] > 0.9 and metrics["test"]["roc_auc"] > 0.95, metrics["test"]
    headline = json.loads((repo / "reports" / "headline.json").read_text())
    assert headline == {
        "val_accuracy": metrics["validation"]["accuracy"],
        "test_accuracy": metrics["test"]["accuracy"],
    }

    history = pd.read_csv(repo / "reports" / "history.csv")
    assert {"train_accuracy", "val_accuracy", "train_crossentropy", "val_crossentropy"} <= set(
        history.columns
    )
    assert history["epoch"].tolist() == list(range(11))  # the start, then 10 epochs
    confusion = pd.read_csv(repo / "reports" / "confusion.csv")
    assert list(confusion.columns) == ["actual", "predicted", "split"]
    assert set(confusion["actual"]) == {"benign", "malignant"} and set(confusion["split"]) == {
        "validation",
        "test",
    }
    test_rows = confusion[confusion["split"] == "test"]
    assert (test_rows["actual"] == test_rows["predicted"]).mean() == pytest.approx(
        metrics["test"]["accuracy"]
    )
    for picture in ("confusion_matrices.png", "roc_curves.png"):
        assert (repo / "reports" / "figures" / "evaluate" / picture).stat().st_size > 0

    plots = classifier_repro.run("dvc", "plots", "show", "--json")
    assert "confusion" in plots.stdout, plots.stdout[-2000:]


def test_the_classifier_run_is_recorded_and_its_model_returns_labels(classifier_repro: Any) -> None:
    [run] = classifier_repro.runs()
    assert run.info.status == "FINISHED"
    assert run.data.params["dataset.task"] == "binary"
    m = run.data.metrics
    assert {"validation_accuracy", "test_log_loss", "test_roc_auc", "test_f1_macro"} <= set(m)
    history = classifier_repro.client().get_metric_history(run.info.run_id, "val_accuracy")
    assert sorted(p.step for p in history) == list(range(11))

    mlflow.set_tracking_uri(classifier_repro.tracking_uri)
    try:
        model = mlflow.pyfunc.load_model(run.data.tags["model_uri"])
        outputs = [c.name for c in model.metadata.signature.outputs.inputs]
        raw = breast_cancer_frame()
        answer = model.predict(raw.drop(columns="diagnosis"))
    finally:
        mlflow.set_tracking_uri(None)
    assert outputs == ["label", "probability_benign", "probability_malignant"]
    assert list(answer.columns) == outputs
    assert np.allclose(answer[outputs[1:]].sum(axis=1), 1.0)
    assert (answer["label"] == raw["diagnosis"]).mean() > 0.9


def test_a_sweep_of_classifiers_ranks_by_log_loss_and_draws_decision_boundaries(tmp_path: Path) -> None:
    sweep = run_sweep(
        tmp_path, "dataset=moons", "optimizer=adam,sgd", "optimizer.learning_rate=0.01",
        "model.hidden_units=[16,16]", "training.epochs=15", "training.progress=false",
    )  # fmt: skip
    assert sweep.returncode == 0, sweep.output()
    assert "sorted by validation_log_loss" in sweep.stdout, sweep.output()
    assert_parent_report(sweep, "sweep")
    rows = sweep.comparison_rows()
    assert [r["optimizer.name"] for r in rows][0] == "adam", rows  # the lower log loss first
    losses = [float(r["validation_log_loss"]) for r in rows]
    assert losses == sorted(losses)
    assert all(0.5 < float(r["validation_accuracy"]) <= 1.0 for r in rows), rows
    runs = sweep.children()
    assert_models_in_store(sweep, runs)
    for run in runs:
        assert "figures/decision_boundary.png" in sweep.artifact_paths(run.info.run_id, "figures")
        assert run.data.metrics["validation_accuracy"] > 0.7, run.data.metrics


def test_served_digits_model_answers_class_and_probabilities(
    make_config: Any, tmp_path: Path, isolated_tracking: str, local_server: Any, free_port: Any
) -> None:
    cfg = make_config("dataset=digits", "optimizer=adam", "model.hidden_units=[32]", "training.epochs=8")
    report = run_job(cfg, tmp_path / "job")
    assert report["task"] == "multiclass" and report["validation"]["accuracy"] > 0.85, report["validation"]
    model_uri = mlflow.MlflowClient(isolated_tracking).get_run(report["run_id"]).data.tags["model_uri"]
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri, "--env-manager", "local"]
    url = local_server(
        [*command, "-h", "127.0.0.1", "-p", str(port)],
        port,
        "/ping",
        {**os.environ, "MLFLOW_TRACKING_URI": isolated_tracking},
    )
    raw = digits_frame()
    rows = raw.drop(columns="digit").head(20)
    status, answer = post(
        f"{url}/invocations", {"dataframe_split": rows.to_dict(orient="split", index=False)}
    )
    assert status == 200, answer
    predictions = pd.DataFrame(answer["predictions"])
    assert list(predictions.columns) == ["label", *(f"probability_{d}" for d in range(10))]
    assert np.allclose(predictions.iloc[:, 1:].sum(axis=1), 1.0)
    assert (predictions["label"].astype(int) == raw["digit"].head(20)).mean() >= 0.8


@pytest.mark.slow
def test_dvc_exp_run_switches_the_project_to_a_multiclass_data_set(classifier_repro: Any) -> None:
    """`dvc exp run -S dataset=digits`: DVC's Hydra composition swaps the data set group, every
    stage reruns, the metrics and headline are a 10-class classifier's (runs after the tests
    that read the breast-cancer results)."""
    project = classifier_repro
    project.run("git", "add", "-A")
    project.run("git", "commit", "-q", "-m", "the reproduced binary classifier")
    done = project.run(
        "dvc", "exp", "run", "-S", "dataset=digits", "-S", "optimizer=adam",
        "-S", "optimizer.learning_rate=0.01", "-S", "training.epochs=10", "-S", "model.hidden_units=[32]",
    )  # fmt: skip
    output = done.stdout + done.stderr
    for stage in ("ingest", "normalize", "split", "train", "evaluate"):
        assert f"Running stage '{stage}'" in output, output[-3000:]
    repo = project.path
    schema = json.loads((repo / "data" / "processed" / "schema.json").read_text())
    assert schema["task"] == "multiclass" and schema["classes"] == [str(d) for d in range(10)]
    metrics = json.loads((repo / "reports" / "metrics.json").read_text())
    assert metrics["task"] == "multiclass" and "roc_auc" not in metrics["test"]
    assert metrics["validation"]["accuracy"] > 0.8, metrics["validation"]
    assert not (repo / "reports" / "figures" / "evaluate" / "roc_curves.png").exists()  # binary only
    latest = project.runs()[-1]
    assert latest.data.params["dataset.name"] == "digits" and latest.info.status == "FINISHED"
