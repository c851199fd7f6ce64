"""Evaluate a trained network on every partition and record it: MSE, RMSE, MAE and R^2,
scaled and in original units; for a classifier accuracy, log loss, macro F1 and (binary) ROC
AUC, with its confusion matrices. The evaluate stage (pipeline.stages.evaluate) and a Hydra
job (pipeline.experiments.job) both run `evaluate_and_record`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from pipeline.core.config import TrainingConfig
from pipeline.core.io import METRIC_DIGITS, TABLE_DIGITS, significant, write_json, write_with
from pipeline.data.prepared import Prepared
from pipeline.tracking.recorder import RunRecorder

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
