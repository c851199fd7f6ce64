"""Stage 5, evaluate: MSE, RMSE, MAE and R^2 on every partition, scaled and in original units;
for a classifier accuracy, log loss, macro F1 and (binary) ROC AUC, with its confusion matrices.

`evaluate_and_record` is the step a Hydra job runs too (pipeline.experiments.job).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from pipeline.core.config import TrainingConfig, load_config
from pipeline.core.errors import PipelineError, run_cli
from pipeline.core.files import MODEL_FILE
from pipeline.core.io import METRIC_DIGITS, TABLE_DIGITS, read_json, significant, write_json, write_with
from pipeline.data.fingerprint import refuse_other_config
from pipeline.data.prepared import Prepared, load_prepared
from pipeline.tracking.recorder import RunRecorder, tracked_run

if TYPE_CHECKING:
    import keras

    from pipeline.reports.figures import Drawer


def evaluate_and_record(
    training: TrainingConfig,
    prepared: Prepared,
    model: keras.Model,
    status: str,
    metrics_file: Path,
    predictions_file: Path,
    recorder: RunRecorder | None,
    figures_dir: Path | None = None,
    drawer: Drawer | None = None,
    rounded: bool = False,
) -> dict[str, Any]:
    """Write the metrics file, the prediction plot data and (into `figures_dir`, through
    `drawer`) the pictures; add them to the run, if any. With a `drawer` of the caller's,
    the pictures are left pending in it for the caller to wait on and log. A diverged run
    gets `{"status": "diverged"}`. With `rounded` (the stage's git-tracked reports), the
    metrics file keeps `METRIC_DIGITS` significant digits and the predicted values
    `TABLE_DIGITS`; the run's metrics and the report returned are whole either way."""
    # TensorFlow is imported here, not with this module: the stage's config, data and
    # tracking errors come before its 3 to 7 s (pipeline.core.quiet)
    from pipeline.model.metrics import evaluate_parts, flat_metrics, plot_frame, report_metrics
    from pipeline.reports.figures import Drawer, evaluation_figures

    own_drawer = drawer is None
    drawer = drawer or Drawer()
    if status == "diverged":
        report: dict[str, Any] = {"status": "diverged", "task": prepared.task}
        write_json(metrics_file, report)
        empty = pd.DataFrame(columns=["actual", "predicted", "split"])
        write_with(predictions_file, lambda p: empty.to_csv(p, index=False))
        return report
    metrics, predictions = evaluate_parts(model, prepared, training)
    report = {"status": status, "task": prepared.task, **metrics}
    write_json(metrics_file, significant(report, METRIC_DIGITS) if rounded else report)
    rows = plot_frame(predictions)
    if rounded:
        rows["predicted"] = significant(rows["predicted"].tolist(), TABLE_DIGITS)
    write_with(predictions_file, lambda p: rows.to_csv(p, index=False))
    if figures_dir is not None:
        evaluation_figures(predictions, prepared.schema["target"], figures_dir, drawer, prepared.classes)
    if recorder is not None:
        recorder.log_metrics(flat_metrics(report_metrics(report)))
        recorder.log_artifact(metrics_file, "reports")
        recorder.log_artifact(predictions_file, "reports")
    if own_drawer:
        pictures = drawer.wait()
        if recorder is not None:
            for picture in pictures:
                recorder.log_artifact(picture, "figures")
    return report


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
