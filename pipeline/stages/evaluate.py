"""Stage 5, evaluate: MSE, RMSE, MAE and R^2 on every partition, scaled and in original units;
for a classifier accuracy, log loss, macro F1 and (binary) ROC AUC, with its confusion matrices
(the step itself is pipeline.steps.evaluate, which a Hydra job runs too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.core.config import load_config
from pipeline.core.errors import PipelineError, run_cli
from pipeline.core.files import MODEL_FILE
from pipeline.core.io import METRIC_DIGITS, read_json, significant, write_json, write_with
from pipeline.data.fingerprint import refuse_other_config
from pipeline.data.prepared import load_prepared
from pipeline.steps.evaluate import evaluate_and_record
from pipeline.tracking.recorder import tracked_run


def headline(report: dict[str, Any]) -> dict[str, float | None]:
    """The few numbers `dvc exp show` puts first: validation and test RMSE in the target's
    own units, or a classifier's validation and test accuracy (None for a diverged run)."""
    classifier = report.get("task", "regression") != "regression"
    if report.get("status") == "diverged":
        return (
            {"val_accuracy": None, "test_accuracy": None}
            if classifier
            else {"val_rmse": None, "test_rmse": None}
        )
    if classifier:
        return {"val_accuracy": report["validation"]["accuracy"], "test_accuracy": report["test"]["accuracy"]}
    return {
        "val_rmse": report["validation"]["original"]["rmse"],
        "test_rmse": report["test"]["original"]["rmse"],
    }


def main() -> None:
    cfg = load_config()
    prepared = load_prepared(cfg.paths.processed_dir)
    refuse_other_config(prepared.manifest, prepared.directory, cfg.dataset, cfg.split)
    model_dir = Path(cfg.paths.model_dir)
    run_record = Path(cfg.paths.run_record)
    if not run_record.is_file():
        raise PipelineError(f"{run_record}: not found; run `dvc repro train` first")
    run = read_json(run_record)
    from pipeline.model.artifact import load_model

    model = load_model(model_dir / MODEL_FILE)
    tracking = cfg.tracking if run["run_id"] else cfg.tracking.model_copy(update={"enabled": False})
    with tracked_run(tracking, cfg.paths, run_id=run["run_id"]) as recorder:
        if recorder is not None and run["status"] == "diverged":
            recorder.status = "FAILED"
        report = evaluate_and_record(
            cfg.training,
            prepared,
            model,
            run["status"],
            Path(cfg.paths.metrics),
            Path(cfg.paths.predictions),
            recorder,
            Path(cfg.paths.eval_figures),
            rounded=True,
        )
    write_json(Path(cfg.paths.headline_metrics), significant(headline(report), METRIC_DIGITS))
    rows = pd.read_csv(cfg.paths.predictions, dtype=str, keep_default_na=False)
    if report["task"] == "regression":
        rows = rows.iloc[0:0]  # the confusion plot is a classifier's; the file stays a declared output
    write_with(Path(cfg.paths.confusion), lambda p: rows.to_csv(p, index=False))
    if report["status"] == "diverged":
        print("evaluate: the run diverged; no metrics (see the MLflow run's tags)")
    elif report["task"] != "regression":
        test = report["test"]
        print(
            f"evaluate: test accuracy {test['accuracy']:.4g}, log loss {test['log_loss']:.4g}, "
            f"macro F1 {test['f1_macro']:.3f}"
        )
    else:
        test = report["test"]
        print(
            f"evaluate: test MSE {test['scaled']['mse']:.4g} (scaled), RMSE {test['original']['rmse']:.4g} "
            f"and R^2 {test['original']['r2']:.3f} (original units)"
        )


if __name__ == "__main__":
    run_cli(main)
