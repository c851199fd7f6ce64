"""The logged model serves with `mlflow models serve`: raw rows in, original units out."""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request

import mlflow
import pandas as pd

from pipeline.experiments.job import run_job


def post(url: str, payload: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_mlflow_models_serve_answers_raw_rows_in_original_units(
    make_config, tmp_path, isolated_tracking, local_server, free_port
):
    cfg = make_config("training.epochs=20")
    report = run_job(cfg, tmp_path / "job")
    model_uri = mlflow.MlflowClient(isolated_tracking).get_run(report["run_id"]).data.tags["model_uri"]
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri, "--env-manager", "local"]
    url = local_server(
        [*command, "-h", "127.0.0.1", "-p", str(port)],
        port,
        "/ping",
        {**os.environ, "MLFLOW_TRACKING_URI": isolated_tracking},
    )
    rows = pd.DataFrame(
        [
            [59, 2, 32.1, 101, 157, 93.2, 38, 4, 4.8598, 87],
            [48, 1, 21.6, 87, 183, 103.2, 70, 3, 3.8918, 69],
        ],
        columns=["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"],
    )  # the first two rows of scikit-learn's raw diabetes data, whose targets are 151 and 75
    status, answer = post(
        f"{url}/invocations", {"dataframe_split": rows.to_dict(orient="split", index=False)}
    )
    assert status == 200, answer
    predictions = answer["predictions"]
    assert len(predictions) == 2
    assert all(25 <= p <= 350 for p in predictions), predictions  # the target's own range and units
    status, answer = post(f"{url}/invocations", {"dataframe_split": {"columns": ["age"], "data": [[59]]}})
    assert status >= 400 and "bmi" in answer["message"]  # missing columns are refused, by name
