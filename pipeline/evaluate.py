"""Stage 5, evaluate: MSE, RMSE, MAE and R^2 on every partition, scaled and in original units."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd

from pipeline.config import Config, load_config
from pipeline.data import Prepared, design_matrix, load_prepared, target_values
from pipeline.engine import predict
from pipeline.errors import PipelineError, process_main, run_cli
from pipeline.features import standardize, unstandardize
from pipeline.io import read_json, write_json, write_with
from pipeline.recorder import Pictures
from pipeline.split import PARTS
from pipeline.tracking import RunRecorder, tracked_run
from pipeline.train import MODEL_FILE, RUN_FILE

UNITS = ("scaled", "original")


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """MSE, RMSE, MAE and R^2 (R^2 is 0 for a constant target predicted exactly, else -inf-safe)."""
    y_true = np.asarray(y_true, dtype="float64").reshape(-1)
    y_pred = np.asarray(y_pred, dtype="float64").reshape(-1)
    errors = y_pred - y_true
    mse = float(np.mean(errors**2))
    total = float(np.sum((y_true - y_true.mean()) ** 2))
    r2 = 1.0 - float(np.sum(errors**2)) / total if total > 0 else 0.0
    return {"mse": mse, "rmse": float(np.sqrt(mse)), "mae": float(np.mean(np.abs(errors))), "r2": r2}


SHOWN_PARTS = ("validation", "test")  # the partitions of the `dvc plots` data and the pictures
Metrics = dict[str, dict[str, dict[str, float]]]  # {part: {units: {metric: value}}}


def part_predictions(
    model: keras.Model, prepared: Prepared, cfg: Config, part: str
) -> tuple[np.ndarray, np.ndarray]:
    """A partition's actual and predicted target, in the target's own units (float64)."""
    x, _ = design_matrix(prepared, part, cfg.training)
    raw_pred = predict(model, x)
    del x
    predicted = unstandardize(raw_pred, prepared.target_stats) if cfg.training.scale_target else raw_pred
    actual = np.asarray(target_values(prepared, part), dtype="float64")  # not the whole partition
    return actual, np.asarray(predicted, dtype="float64")


def part_metrics(
    actual: np.ndarray, predicted: np.ndarray, stats: dict[str, list[float]]
) -> dict[str, dict[str, float]]:
    """{units: {metric: value}}: on the scaled target (standardized with `stats`) and in original units."""
    return {
        "scaled": regression_metrics(standardize(actual, stats), standardize(predicted, stats)),
        "original": regression_metrics(actual, predicted),
    }


def evaluate_parts(
    model: keras.Model, prepared: Prepared, cfg: Config
) -> tuple[Metrics, dict[str, pd.DataFrame]]:
    """Every partition's metrics, and the validation and test predictions (actual, predicted).
    One partition's predictions are in memory at a time besides those two (a 1M-row set's
    peak memory: docs/benchmarks.md)."""
    metrics: Metrics = {}
    shown: dict[str, pd.DataFrame] = {}
    for part in PARTS:
        actual, predicted = part_predictions(model, prepared, cfg, part)
        metrics[part] = part_metrics(actual, predicted, prepared.target_stats)
        if part in SHOWN_PARTS:
            shown[part] = pd.DataFrame({"actual": actual, "predicted": predicted})
    return metrics, shown


def flat_metrics(metrics: Metrics) -> dict[str, float]:
    """MLflow names: `test_mse_scaled`, `test_mae_original`, ..."""
    return {
        f"{part}_{name}_{units}": value
        for part, by_units in metrics.items()
        for units, values in by_units.items()
        for name, value in values.items()
    }


def plot_frame(predictions: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Predicted against actual (original units) on validation and test, for `dvc plots`."""
    frames = [predictions[p][["actual", "predicted"]].assign(split=p) for p in SHOWN_PARTS]
    return pd.concat(frames, ignore_index=True)


def evaluate_and_record(
    cfg: Config,
    prepared: Prepared,
    model: keras.Model,
    status: str,
    metrics_file: Path,
    predictions_file: Path,
    recorder: RunRecorder | None,
    figures_dir: Path | None = None,
) -> dict[str, Any]:
    """Write the metrics file and the prediction plot data; add the metrics to the run."""
    if status == "diverged":
        report: dict[str, Any] = {"status": "diverged"}
        write_json(metrics_file, report)
        write_with(
            predictions_file,
            lambda p: pd.DataFrame(columns=["actual", "predicted", "split"]).to_csv(p, index=False),
        )
        return report
    metrics, predictions = evaluate_parts(model, prepared, cfg)
    report = {"status": status, **metrics}
    write_json(metrics_file, report)
    write_with(predictions_file, lambda p: plot_frame(predictions).to_csv(p, index=False))
    pictures = Pictures(recorder) if figures_dir is not None else None
    if pictures is not None and figures_dir is not None:
        evaluation_figures(predictions, prepared.schema["target"], figures_dir, pictures)
    if recorder is not None:
        recorder.log_metrics(flat_metrics(report_metrics(report)))
        recorder.log_artifact(metrics_file, "reports")
        recorder.log_artifact(predictions_file, "reports")
    if pictures is not None:
        pictures.wait()
    return report


def evaluation_figures(
    predictions: dict[str, pd.DataFrame], target: str, folder: Path, pictures: Pictures
) -> None:
    """Predicted against actual, and residuals, on the validation and test sets (drawn by the
    drawing helper, which gets only those two partitions' two columns)."""
    shown = {p: predictions[p][["actual", "predicted"]] for p in SHOWN_PARTS if p in predictions}
    pictures.draw("predicted_vs_actual", shown, target, folder / "predicted_vs_actual.png")
    pictures.draw("residuals", shown, target, folder / "residuals.png")


def report_metrics(report: dict[str, Any]) -> Metrics:
    return {part: report[part] for part in PARTS if part in report}


def main() -> None:
    cfg = load_config()
    prepared = load_prepared(cfg.paths.processed_dir)
    model_dir = Path(cfg.paths.model_dir)
    if not (model_dir / RUN_FILE).is_file():
        raise PipelineError(f"{model_dir / RUN_FILE}: not found; run `dvc repro train` first")
    run = read_json(model_dir / RUN_FILE)
    model = keras.saving.load_model(model_dir / MODEL_FILE, safe_mode=True)
    tracking = cfg.tracking if run["run_id"] else cfg.tracking.model_copy(update={"enabled": False})
    with tracked_run(tracking, cfg.paths, run_id=run["run_id"]) as recorder:
        if recorder is not None and run["status"] == "diverged":
            recorder.status = "FAILED"
        report = evaluate_and_record(
            cfg,
            prepared,
            model,
            run["status"],
            Path(cfg.paths.metrics),
            Path(cfg.paths.predictions),
            recorder,
            Path(cfg.paths.eval_figures),
        )
    if report["status"] == "diverged":
        print("evaluate: the run diverged; no metrics (see the MLflow run's tags)")
    else:
        test = report["test"]
        print(
            f"evaluate: test MSE {test['scaled']['mse']:.4g} (scaled), RMSE {test['original']['rmse']:.4g} "
            f"and R^2 {test['original']['r2']:.3f} (original units)"
        )


if __name__ == "__main__":
    process_main(lambda: run_cli(main))
