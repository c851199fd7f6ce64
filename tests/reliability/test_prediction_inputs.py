"""At prediction time the logged model never answers a wrong input with a silently wrong number."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest

from pipeline.experiments.job import run_job

FEATURES = ["Page total likes", "Type", "Category", "Post Month", "Post Weekday", "Post Hour", "Paid"]


@pytest.fixture
def facebook_model(make_config, facebook_csv, tmp_path, isolated_tracking):
    cfg = make_config("dataset=facebook", f"dataset.path={facebook_csv}", "training.epochs=3")
    report = run_job(cfg, tmp_path / "job")
    uri = mlflow.MlflowClient(isolated_tracking).get_run(report["run_id"]).data.tags["model_uri"]
    rows = pd.read_csv(facebook_csv, sep=";").dropna()[FEATURES].head(5).reset_index(drop=True)
    return mlflow.pyfunc.load_model(uri), rows


def test_reordered_and_extra_columns_give_the_same_answer(facebook_model):
    model, rows = facebook_model
    expected = np.asarray(model.predict(rows))
    shuffled = rows[list(reversed(FEATURES))].assign(comment=1, share=2)
    assert np.allclose(np.asarray(model.predict(shuffled)), expected)


def test_a_missing_column_is_refused_by_name(facebook_model):
    model, rows = facebook_model
    with pytest.raises(Exception, match="Post Hour"):
        model.predict(rows.drop(columns=["Post Hour"]))


def test_a_category_never_seen_in_training_is_refused_by_name(facebook_model):
    model, rows = facebook_model
    with pytest.raises(Exception, match="Carousel"):
        model.predict(rows.assign(Type="Carousel"))


def test_the_logged_model_predicts_where_the_project_is_not_installed(
    make_config, facebook_csv, tmp_path, isolated_tracking
):
    """The model carries the part of the package it needs (pipeline.tracking.records.SERVING_MODULES):
    loaded in a process that cannot import the project, it gives the same predictions."""
    import json
    import subprocess
    import sys

    cfg = make_config("dataset=facebook", f"dataset.path={facebook_csv}", "training.epochs=3")
    report = run_job(cfg, tmp_path / "job")
    uri = mlflow.MlflowClient(isolated_tracking).get_run(report["run_id"]).data.tags["model_uri"]
    rows = pd.read_csv(facebook_csv, sep=";").dropna()[FEATURES].head(5).reset_index(drop=True)
    expected = np.asarray(mlflow.pyfunc.load_model(uri).predict(rows)).ravel()
    rows.to_csv(tmp_path / "rows.csv", index=False)
    script = f"""
import importlib.util, json, sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in getattr(f, "__module__", "")]
assert importlib.util.find_spec("pipeline") is None, "the project is importable here"
import mlflow, pandas as pd
mlflow.set_tracking_uri({isolated_tracking!r})
model = mlflow.pyfunc.load_model({uri!r})
print(json.dumps([float(v) for v in model.predict(pd.read_csv("rows.csv")).ravel()]))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert np.allclose(json.loads(done.stdout.strip().splitlines()[-1]), expected)


def test_the_served_model_computes_the_cluster_similarities_as_training_did(
    make_config, housing_csv, tmp_path, isolated_tracking
):
    """With log counts and similarities to k-means centers of the coordinates, the logged
    model, given the raw rows of the file, makes the errors the evaluation measured: its MSE
    over every row is the row-weighted mean of the train, validation and test MSEs."""
    cfg = make_config(
        "dataset=california_housing",
        f"dataset.path={housing_csv}",
        "dataset.log_features=[total_rooms,total_bedrooms,population,households]",
        "dataset.cluster_similarity.columns=[latitude,longitude]",
        "training.epochs=2",
    )
    report = run_job(cfg, tmp_path / "job")
    uri = mlflow.MlflowClient(isolated_tracking).get_run(report["run_id"]).data.tags["model_uri"]
    rows = pd.read_csv(housing_csv).dropna().reset_index(drop=True)
    predicted = np.asarray(mlflow.pyfunc.load_model(uri).predict(rows.drop(columns="median_house_value")))
    served_mse = float(np.mean((predicted.ravel() - rows["median_house_value"].to_numpy()) ** 2))
    sizes = {"train": 0.6, "validation": 0.2, "test": 0.2}  # the default split's shares
    counts = {part: round(share * len(rows)) for part, share in sizes.items()}
    counts["train"] = len(rows) - counts["validation"] - counts["test"]
    measured = sum(counts[p] * report[p]["original"]["mse"] for p in counts) / len(rows)
    assert served_mse == pytest.approx(measured, rel=1e-4), (served_mse, measured)
    assert report["test"]["original"]["rmse"] < 0.9 * rows["median_house_value"].std()  # it learned
