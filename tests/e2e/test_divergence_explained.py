"""The course's exploding-gradient lesson on the real Facebook data, explained by diagnostics."""

from __future__ import annotations

import math

import mlflow

from pipeline.experiments.job import run_job


def test_raw_target_sgd_on_facebook_diverges_in_epoch_one_and_names_the_layer(
    make_config, facebook_csv, tmp_path, isolated_tracking
):
    cfg = make_config(
        "dataset=facebook",
        f"dataset.path={facebook_csv}",
        "optimizer=sgd",
        "training.scale_target=false",
        "training.epochs=100",
        "training.diagnostics=true",
    )
    report = run_job(cfg, tmp_path / "job")
    assert report["status"] == "diverged"
    run = mlflow.MlflowClient(isolated_tracking).get_run(report["run_id"])
    assert run.info.status == "FAILED"
    tags = run.data.tags
    assert tags["diverged_epoch"] == "1"
    assert tags["diverged_max_grad_layer"] in {"hidden_1", "output"}
    assert float(tags["diverged_max_grad_norm"]) > 100.0  # exploding, not merely large
    assert all(math.isfinite(v) for v in run.data.metrics.values())
