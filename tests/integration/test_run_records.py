"""A run records the model it trained: the task it resolved, the classes and the input
columns equal the logged model's output head and signature (issue 34)."""

from __future__ import annotations

import json

import mlflow
import pytest
from mlflow.entities import LoggedModelStatus
from sklearn.datasets import load_iris

from pipeline.experiments.job import run_job

QUICK = ("training.epochs=1", "training.diagnostics=false")


def iris_csv(folder) -> str:
    frame = load_iris(as_frame=True).frame.rename(columns={"target": "species"})
    frame["species"] = frame["species"].map(dict(enumerate(load_iris().target_names)))
    path = folder / "iris.csv"
    frame.to_csv(path, index=False)
    return str(path)


CASES = {  # configured task -> the overrides of a tiny run
    "regression": lambda tmp: ["dataset=diabetes"],
    "binary": lambda tmp: ["dataset=moons", "dataset.synthetic.n_samples=200"],
    "auto": lambda tmp: ["dataset=csv", f"dataset.path={iris_csv(tmp)}", "dataset.target=species"],
}


@pytest.mark.parametrize("configured", sorted(CASES))
def test_the_runs_task_classes_and_inputs_are_the_logged_models(configured, make_config, tmp_path):
    cfg = make_config(*CASES[configured](tmp_path), f"dataset.task={configured}", *QUICK)
    report = run_job(cfg, tmp_path / "job")
    run = mlflow.MlflowClient().get_run(report["run_id"])
    tags, params = run.data.tags, run.data.params
    assert params["dataset.task"] == configured  # the param is the config as written
    task, classes = tags["resolved_task"], json.loads(tags["classes"])
    inputs = json.loads(tags["input_columns"])

    model_uri = tags["model_uri"]
    signature = mlflow.models.get_model_info(model_uri).signature
    served = mlflow.pyfunc.load_model(model_uri).unwrap_python_model()
    head = served.network.layers[-1]
    assert sorted(signature.inputs.input_names()) == sorted(inputs)  # by name, in any order
    assert served.spec["task"] == task and list(served.spec.get("classes") or []) == classes
    assert head.activation.__name__ == "linear"  # a number, or logits
    outputs = signature.outputs.input_names()
    if task == "regression":
        assert (head.units, classes) == (1, [])
        assert len(outputs) == 1 and outputs[0] in (None, 0)  # one unnamed number
    else:
        assert head.units == (1 if task == "binary" else len(classes))
        assert outputs == ["label", *(f"probability_{c}" for c in classes)]
    expected = {"regression": "regression", "binary": "binary", "auto": "multiclass"}[configured]
    assert task == expected


def test_the_logged_model_is_the_runs_output_with_its_params_and_first_metrics(make_config, tmp_path):
    cfg = make_config("dataset=diabetes", *QUICK)
    report = run_job(cfg, tmp_path / "job")
    client = mlflow.MlflowClient()
    run = client.get_run(report["run_id"])
    model = client.get_logged_model(run.data.tags["model_uri"].removeprefix("models:/"))
    assert model.source_run_id == run.info.run_id and model.status == LoggedModelStatus.READY
    assert [o.model_id for o in run.outputs.model_outputs] == [model.model_id]
    assert model.params == run.data.params
    start = {m.key: m.value for m in client.get_metric_history(run.info.run_id, "train_loss") if m.step == 0}
    linked = {m.key: m.value for m in model.metrics}
    assert linked and all(m.step == 0 for m in model.metrics)  # the metrics before training
    assert linked["train_loss"] == start["train_loss"]
