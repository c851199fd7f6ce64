"""`python -m pipeline.run`, the Hydra entry point, in a private copy of the project."""

from __future__ import annotations

import json
import math
from typing import Any

PARENT_TAG = "mlflow.parentRunId"
FIGURES = (
    "learning_curves.png",
    "predicted_vs_actual.png",
    "residuals.png",
    "distributions.png",  # the lab net has diagnostics (auto): distributions per layer
)


def job_and_parent_runs(runs: list[Any]) -> tuple[list[Any], list[Any]]:
    """Split runs into jobs and the parent runs that other runs point to."""
    parent_ids = {r.data.tags[PARENT_TAG] for r in runs if PARENT_TAG in r.data.tags}
    jobs = [r for r in runs if r.info.run_id not in parent_ids]
    parents = [r for r in runs if r.info.run_id in parent_ids]
    return jobs, parents


def test_multirun_sweep_records_one_finished_run_per_job(project: Any) -> None:
    result = project.run("python", "-m", "pipeline.run", "-m", "optimizer=sgd,adam", "training.epochs=2")
    assert "Traceback" not in result.stderr, result.stderr[-4000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [], errors

    jobs, parents = job_and_parent_runs(project.runs())
    assert len(jobs) == 2, [r.info.run_name for r in jobs]
    assert sorted(r.data.params["optimizer.name"] for r in jobs) == ["adam", "sgd"]
    for parent in parents:  # a sweep may group its jobs under one parent run
        assert parent.info.status == "FINISHED", parent.info
    assert len(parents) <= 1, [r.info.run_name for r in parents]
    if parents:
        assert all(r.data.tags[PARENT_TAG] == parents[0].info.run_id for r in jobs)
    client = project.client()
    for run in jobs:
        assert run.info.status == "FINISHED", run.info
        assert run.data.tags.get("model_uri"), f"run {run.info.run_id} has no model_uri tag"
        assert run.data.params["training.epochs"] == "2"
        val_loss = client.get_metric_history(run.info.run_id, "val_loss")
        assert sorted(m.step for m in val_loss) == [0, 1, 2]  # the start, then every epoch
        assert math.isfinite(run.data.metrics["validation_mse_scaled"])
        # numbers the UI sorts: the learning rate as the param says, the network's size
        lr = float(run.data.params["optimizer.learning_rate"])
        assert run.data.metrics["optimizer.learning_rate"] == lr
        assert run.data.metrics["param_count"] == 10 * 8 + 8 + 8 + 1  # 10 inputs, Dense(8), Dense(1)
        # each job's pictures are logged on its run
        logged = {a.path for a in client.list_artifacts(run.info.run_id, "figures")}
        assert logged >= {f"figures/{name}" for name in FIGURES}, logged
        assert "reports/distributions.json" in {
            a.path for a in client.list_artifacts(run.info.run_id, "reports")
        }

    # Each job writes its own outputs; the DVC-tracked data folders are left alone.
    job_metrics = sorted((project.path / "outputs" / "sweeps").glob("*/*/metrics.json"))
    assert len(job_metrics) == 2, job_metrics
    for job in job_metrics:
        assert all((job.parent / "figures" / name).is_file() for name in FIGURES), job.parent
        moments = json.loads((job.parent / "figures" / "distributions.json").read_text())
        assert set(moments) == {"epoch 0", "epoch 1", "end"}  # the start, after one epoch, the end
        start = moments["epoch 0"]["hidden_1"]
        assert set(start) == {"preactivation", "activation", "kernel_gradient", "kernel"}
        assert start["activation"]["std"] > 0 and start["activation"]["across_units_std"] > 0
        quantiles = list(start["preactivation"]["quantiles"].values())
        assert quantiles == sorted(quantiles) and quantiles[0] < quantiles[-1]
    assert not (project.path / "data" / "processed").exists()
    assert not (project.path / "models").exists()


def test_invalid_config_is_one_error_line_and_no_run(project: Any) -> None:
    result = project.run("python", "-m", "pipeline.run", "optimizer.learning_rate=-1", check=False)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr[-4000:]
    naming = [line for line in result.stderr.splitlines() if "optimizer.learning_rate" in line]
    assert len(naming) == 1, result.stderr[-4000:]
    assert naming[0].startswith("error:"), naming[0]
    assert project.runs() == []


def test_a_range_test_sweep_records_the_loss_against_the_rate_and_a_suggestion(project: Any) -> None:
    result = project.run(
        "python", "-m", "pipeline.run", "-m", "optimizer=sgd,adam",
        "training.lr_range.enabled=true", "training.lr_range.steps=60", "training.lr_range.max_lr=1000",
    )  # fmt: skip
    assert "Traceback" not in result.stderr, result.stderr[-4000:]
    assert result.stdout.count("the loss fell fastest at") == 2, result.stdout
    jobs, parents = job_and_parent_runs(project.runs())
    assert len(jobs) == 2 and all(r.info.status == "FINISHED" for r in jobs + parents)
    client = project.client()
    for run in jobs:
        assert run.data.tags["mode"] == "lr_range" and run.info.run_name.startswith("lr_range-")
        metrics = run.data.metrics
        assert 0 < metrics["lr_suggested"] < metrics["lr_exploded_at"] <= 1000  # it exploded before the end
        losses = client.get_metric_history(run.info.run_id, "lr_range/loss")
        assert len(losses) == metrics["lr_range_batches"] < 60
        rates = client.get_metric_history(run.info.run_id, "lr_range/learning_rate")
        values = [m.value for m in sorted(rates, key=lambda m: m.step)]
        assert values == sorted(set(values))  # raised batch by batch
        logged = {a.path for a in client.list_artifacts(run.info.run_id, "figures")}
        assert "figures/lr_range.png" in logged, logged
        assert "model_uri" not in run.data.tags  # nothing was trained to keep
