"""The comparison of a set of runs: a table sorted by a metric, its spread over seeds,
learning curves and a metric against each parameter that varies; printed and written."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from pipeline.core.config import PathsConfig, TrackingConfig
from pipeline.core.errors import PipelineError
from pipeline.reports.comparison_plots import plot_learning_curves, plot_metric_vs_param
from pipeline.reports.parallel_coordinates import plot_parallel_coordinates
from pipeline.reports.signal_depth import depth_profiles, plot_signal_through_depth
from pipeline.reports.sweep_analysis import (
    analysis_text,
    plot_seed_bands,
    seed_bands,
    terminal_verdict,
)
from pipeline.reports.terminal_table import fit_to_width, headline_columns, terminal_width
from pipeline.tracking.queries import RunSummary, metric_history
from pipeline.tracking.recorder import RUN_STATUS_TAG

DEFAULT_METRIC = "validation_mse_scaled"
METRIC_COLUMNS = (
    "train_mse_scaled",
    "validation_mse_scaled",
    "test_mse_scaled",
    "test_rmse_original",
    "test_r2_original",
    "cv_val_mse_mean",
    "cv_val_mse_std",
    "cv_val_rmse_original_mean",
    "validation_log_loss",
    "validation_accuracy",
    "test_log_loss",
    "test_accuracy",
    "test_f1_macro",
    "test_roc_auc",
    "cv_val_log_loss_mean",
    "cv_val_log_loss_std",
    "cv_val_accuracy_mean",
    "max_grad_norm",
    "dead_fraction_end",
    "saturated_fraction_end",
    "lr_suggested",  # a learning-rate range test's (pipeline.experiments.range_test)
    "lr_exploded_at",
)
RANGE_TEST_METRIC = "lr_suggested"  # what a sweep of range tests shows, having no validation
FIRST_LAYER_GRAD = ("diag/hidden_1/grad_norm", "diag/output/grad_norm")  # a linear net has only `output`
IGNORED_PARAMS = ("tracking.", "paths.")
SEED_PARAM = "training.seed"
# a classifier's runs are ranked by log loss where a regression's are ranked by MSE
CLASSIFIER_METRIC = {
    "validation_mse_scaled": "validation_log_loss",
    "cv_val_mse_mean": "cv_val_log_loss_mean",
}


def ranking_metric(runs: Sequence[RunSummary], metric: str) -> str:
    """`metric`, or its classifier counterpart when the runs are classifiers' (they have it
    and not `metric`), or the suggested rate when they are range tests with neither."""
    if any(metric in r.metrics for r in runs):
        return metric
    counterpart = CLASSIFIER_METRIC.get(metric)
    if counterpart is not None and any(counterpart in r.metrics for r in runs):
        return counterpart
    return RANGE_TEST_METRIC if any(RANGE_TEST_METRIC in r.metrics for r in runs) else metric


def run_status(run: RunSummary) -> str:
    """finished, early_stopped, diverged, failed, killed or running."""
    return run.tags.get(RUN_STATUS_TAG) or run.status.lower()


def varying_params(runs: Sequence[RunSummary]) -> list[str]:
    """Params with two or more distinct values among the runs that have them (tracking and
    paths settings left out); a run that failed before logging a param does not count."""
    keys = sorted({k for r in runs for k in r.params if not k.startswith(IGNORED_PARAMS)})
    return [k for k in keys if len({r.params[k] for r in runs if k in r.params}) > 1]


def comparison_frame(runs: Sequence[RunSummary], metric: str = DEFAULT_METRIC) -> pd.DataFrame:
    """One row per run: what varies, the metrics, epochs run, status; sorted by `metric`."""
    varying = varying_params(runs)
    columns = [c for c in METRIC_COLUMNS if any(c in r.metrics for r in runs)]
    if metric not in columns and any(metric in r.metrics for r in runs):
        columns.append(metric)
    rows = []
    for run in runs:
        row: dict[str, object] = {"run": run.name}
        row |= {p: run.params.get(p) for p in varying}
        row |= {c: run.metrics.get(c, math.nan) for c in columns}
        row["epochs"] = run.tags.get("epochs_run", "")
        row["status"] = run_status(run)
        row["note"] = _note(run)
        row["run_id"] = run.run_id
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    if metric in frame.columns:
        frame = frame.sort_values(metric, na_position="last", kind="stable")
    return frame.reset_index(drop=True)


def _note(run: RunSummary) -> str:
    tags = run.tags
    if tags.get("diverged_epoch"):
        note = f"non-finite loss in epoch {tags['diverged_epoch']}, batch {tags.get('diverged_batch', '?')}"
        if tags.get("diverged_max_grad_layer"):
            note += (
                f"; largest gradient norm before it {tags.get('diverged_max_grad_norm')} "
                f"in {tags['diverged_max_grad_layer']}"
            )
        return note
    if tags.get("stopped_epoch"):
        return f"stopped at epoch {tags['stopped_epoch']}, restored {tags.get('best_epoch', '-')}"
    if tags.get("error"):
        return tags["error"][:120]
    if tags.get("tracking_retries"):
        return f"waited for the tracking server ({tags['tracking_retries']} retries); recorded in full"
    return ""


def seed_summary(frame: pd.DataFrame, metric: str = DEFAULT_METRIC) -> pd.DataFrame:
    """Mean and spread of `metric` per configuration, when runs repeat it over seeds; for a
    classifier its validation accuracy's mean and spread too."""
    if SEED_PARAM not in frame.columns or metric not in frame.columns:
        return pd.DataFrame()
    keys = [c for c in frame.columns if "." in c and c != SEED_PARAM]
    grouped = frame.groupby(keys, dropna=False, sort=False) if keys else frame.groupby(lambda _: "all")
    summary = grouped[metric].agg(["mean", "std", "min", "max", "count"]).reset_index()
    summary = summary.rename(columns={c: f"{metric}_{c}" for c in ("mean", "std", "min", "max")})
    accuracy = next((c for c in ("cv_val_accuracy_mean", "validation_accuracy") if c in frame.columns), None)
    if accuracy is not None and accuracy != metric:
        spread = grouped[accuracy].agg(["mean", "std"]).reset_index(drop=True)
        count = summary.pop("count")
        summary[[f"{accuracy}_mean", f"{accuracy}_std"]] = spread.to_numpy()
        summary["count"] = count
    return summary.sort_values(f"{metric}_mean", na_position="last").reset_index(drop=True)


def markdown(frame: pd.DataFrame, digits: int = 4) -> str:
    """A GitHub-style Markdown table."""
    if frame.empty:
        return "(no runs)\n"

    def cell(value: object) -> str:
        if isinstance(value, float):
            return "" if math.isnan(value) else f"{value:.{digits}g}"
        return str(value if value is not None else "").replace("|", "\\|")

    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body]) + "\n"


def write_report(
    frame: pd.DataFrame,
    curves: dict[str, list[tuple[int, float]]],  # by run id
    out_dir: Path,
    metric: str = DEFAULT_METRIC,
    title: str = "Comparison",
    gradients: dict[str, list[tuple[int, float]]] | None = None,
) -> list[Path]:
    """comparison.md (with the sweep's analysis, pipeline.reports.sweep_analysis),
    comparison.csv, learning_curves.png, metric_vs_param.png, parallel_coordinates.png and,
    with seeds, learning_curves_over_seeds.png, with diagnostics, first_layer_gradients.png
    in `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "comparison.csv", out_dir / "comparison.md"]
    frame.to_csv(written[0], index=False)
    text = f"# {title}\n\nSorted by `{metric}` (lower is better).\n\n{markdown(frame)}"
    seeds = seed_summary(frame, metric)
    if not seeds.empty:
        text += f"\n## Mean and spread over seeds\n\n{markdown(seeds)}"
    analysis = analysis_text(frame, metric)
    if analysis:
        text += f"\n{analysis}"
    written[1].write_text(text, encoding="utf-8")
    bands = seed_bands(frame, curves)
    if bands:
        written.append(plot_seed_bands(bands, out_dir / "learning_curves_over_seeds.png"))
    parallel = plot_parallel_coordinates(frame, metric, out_dir / "parallel_coordinates.png")
    if parallel is not None:
        written.append(parallel)
    names = display_names(frame)
    plot_learning_curves(
        {names.get(k, k): v for k, v in curves.items()}, out_dir / "learning_curves.png", "val_loss"
    )
    written.append(out_dir / "learning_curves.png")
    if gradients and any(gradients.values()):
        plot_learning_curves(
            {names.get(k, k): v for k, v in gradients.items()},
            out_dir / "first_layer_gradients.png",
            "first layer's kernel gradient norm",
            ylabel="gradient norm (RMS over the epoch's steps)",
        )
        written.append(out_dir / "first_layer_gradients.png")
    varying = [c for c in frame.columns if "." in c and c != SEED_PARAM]
    varying = varying or [c for c in frame.columns if c == SEED_PARAM]  # seeds only: the spread over them
    if varying and metric in frame.columns:
        plot_metric_vs_param(frame, varying, metric, out_dir / "metric_vs_param.png")
        written.append(out_dir / "metric_vs_param.png")
    return written


Curves = dict[str, list[tuple[int, float]]]


def collect(
    runs: Sequence[RunSummary], history: Callable[[str, str], list[tuple[int, float]]], metric: str
) -> tuple[pd.DataFrame, Curves, Curves]:
    """The table, each run's validation loss per epoch and its first layer's gradient norm,
    by run id."""
    frame = comparison_frame(runs, metric)
    curves = {run.run_id: history(run.run_id, "val_loss") for run in runs}
    gradients: Curves = {}
    for run in runs:
        key = next((k for k in FIRST_LAYER_GRAD if k in run.metrics), None)
        if key is not None:
            gradients[run.run_id] = history(run.run_id, key)
    return frame, curves, gradients


def display_names(frame: pd.DataFrame) -> dict[str, str]:
    """run id -> the run's name for a legend; where names repeat (a preset's seeds share
    one), with the seed, else the id's start."""
    if frame.empty:
        return {}
    repeated = frame["run"].duplicated(keep=False)
    names = {}
    for (_, row), again in zip(frame.iterrows(), repeated, strict=True):
        seed = row.get(SEED_PARAM) if SEED_PARAM in frame.columns else None
        suffix = f" seed {seed}" if seed is not None else f" {str(row['run_id'])[:6]}"
        names[str(row["run_id"])] = f"{row['run']}{suffix}" if again else str(row["run"])
    return names


def compare_runs(
    tracking: TrackingConfig,
    paths: PathsConfig,
    runs: Sequence[RunSummary],
    out_dir: Path,
    metric: str,
    title: str,
    columns: Sequence[str] | None = None,
    width: int | None = None,
) -> pd.DataFrame:
    """Build and write the comparison of `runs` and print it fitted to `width` (the
    terminal's by default): the headline columns, or `columns`; return the table."""
    metric = ranking_metric(runs, metric)
    frame, curves, gradients = collect(
        runs, lambda rid, key: metric_history(tracking, paths, rid, key), metric
    )
    write_report(frame, curves, out_dir, metric, title, gradients)
    profiles = depth_profiles(runs, lambda rid, key: metric_history(tracking, paths, rid, key))
    if profiles:  # deep networks with diagnostics: the signal and the gradient through depth
        plot_signal_through_depth(profiles, out_dir / "signal_through_depth.png")
    width = width or terminal_width()
    unknown = [c for c in columns or () if c not in frame.columns]
    if unknown:
        raise PipelineError(
            f"the comparison has no column {unknown[0]!r}; --columns takes names from "
            f"{out_dir / 'comparison.csv'}: {', '.join(frame.columns)}"
        )
    shown = list(columns) if columns else headline_columns(frame, metric)
    keep = shown if columns else ("run", metric, "status")
    print(
        f"{title}: {len(frame)} run(s), sorted by {metric}\n{fit_to_width(frame, shown, width, keep)}", end=""
    )
    seeds = seed_summary(frame, metric)
    if not seeds.empty:
        stats = [
            f"{metric}_mean",
            f"{metric}_std",
            *[c for c in seeds if c.endswith("accuracy_mean")],
            "count",
        ]
        print(
            f"\nmean and spread over seeds:\n{fit_to_width(seeds, list(seeds.columns), width, stats)}", end=""
        )
    verdict = terminal_verdict(frame, metric, width)
    if verdict:
        print(verdict)
    print(f"written to {out_dir}/ (every column in comparison.md and comparison.csv)")
    return frame
