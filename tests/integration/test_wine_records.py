"""The issue 34 scenario: a user's `;`-separated wine CSV trained first as a multiclass
classifier, then as a regression. Each run's records say what its network is, through
`dvc exp run` and through `python -m pipeline.run`, whichever prepared data is lying about."""

from __future__ import annotations

import json
from typing import Any

import mlflow
import pytest
from sklearn.datasets import load_wine

WINE = ("dataset=csv", "dataset.path=wine.csv", "dataset.target=cultivar", 'dataset.separator=";"')
QUICK = ("training.epochs=1", "training.diagnostics=false")


def exp_run(project: Any, task: str) -> str:
    args = [arg for key in (*WINE, f"dataset.task={task}", *QUICK) for arg in ("-S", key)]
    done = project.run("dvc", "exp", "run", *args)
    return done.stdout + done.stderr


def latest_run(project: Any) -> Any:
    return project.runs()[-1]


def assert_records_the_network(run: Any, task: str, classes: int) -> None:
    """The run's params and tags say `task`, and its logged network's head agrees."""
    tags = run.data.tags
    assert run.info.status == "FINISHED"
    assert run.data.params["dataset.task"] == task and tags["resolved_task"] == task
    assert len(json.loads(tags["classes"])) == classes
    head = mlflow.pyfunc.load_model(tags["model_uri"]).unwrap_python_model().network.layers[-1]
    assert head.units == max(classes, 1) and head.activation.__name__ == "linear"


@pytest.mark.slow
def test_multiclass_then_regression_records_what_each_network_is(
    project_factory, monkeypatch, request
) -> None:
    project = project_factory("wine")
    # the copy's store, to load models: set in this process (over any URI an in-process API
    # test set before; MLflow also puts it in the environment), unset at the end
    monkeypatch.setenv("MLFLOW_TRACKING_URI", project.tracking_uri)
    mlflow.set_tracking_uri(project.tracking_uri)
    request.addfinalizer(lambda: mlflow.set_tracking_uri(None))
    frame = load_wine(as_frame=True).frame.rename(columns={"target": "cultivar"})
    frame["cultivar"] += 1  # 1, 2, 3 as in the UCI file
    frame.to_csv(project.path / "wine.csv", sep=";", index=False)
    project.run("git", "add", "wine.csv")
    project.run("git", "commit", "-q", "-m", "a user's wine data")

    exp_run(project, "multiclass")
    assert_records_the_network(latest_run(project), "multiclass", 3)
    output = exp_run(project, "regression")
    assert "Running stage 'normalize'" in output, output[-3000:]
    assert_records_the_network(latest_run(project), "regression", 0)
    metrics = json.loads((project.path / "reports" / "metrics.json").read_text())
    assert metrics["task"] == "regression"

    # the Hydra door, once on data the DVC stages did not prepare, once reusing theirs
    for task, classes in (("multiclass", 3), ("regression", 0)):
        project.run("python", "-m", "pipeline.run", *WINE, f"dataset.task={task}", *QUICK)
        assert_records_the_network(latest_run(project), task, classes)
