"""What `pipeline.api` hands back: a `Run` (one job's record and outputs) and a `Sweep` (its
runs, comparison and verdict), read from the job's folder and the MLflow store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.core.config import Config
from pipeline.core.files import COMPARISON_DIR, FIGURES_DIR, HISTORY_FILE, JOB_FILE
from pipeline.core.io import read_json
from pipeline.reports.comparison import ranking_metric
from pipeline.reports.progress import in_notebook
from pipeline.reports.sweep_analysis import paired_verdict
from pipeline.tracking.queries import RunSummary, run_summary
from pipeline.tracking.store import resolve_tracking_uri


def show_files(pictures: Sequence[Path], table: pd.DataFrame | None = None) -> None:
    """In a notebook's kernel, display `table` and the pictures inline; elsewhere print the
    pictures' paths."""
    if not in_notebook():
        for picture in pictures:
            print(picture)
        return
    from IPython.display import Image, display

    if table is not None:
        display(table)
    for picture in pictures:
        display(Image(filename=str(picture)))


@dataclass
class Run:
    """One job: `run_id` (None without tracking), `name`, `status` (finished, early_stopped,
    diverged, failed...), `config` (the validated Config; None when it was invalid),
    `metrics` (the MLflow run's, flat, by their MLflow names), `out_dir`; `history`,
    `figures` and `model` are read when asked."""

    run_id: str | None
    name: str
    status: str
    config: Config | None
    metrics: dict[str, float]
    out_dir: Path
    tracking_uri: str | None = field(default=None, repr=False)
    _model: Any = field(default=None, repr=False)

    @property
    def history(self) -> pd.DataFrame:
        """One row per epoch from epoch 0 (the network as initialized): the run's history file."""
        path = self.out_dir / HISTORY_FILE
        return pd.read_csv(path) if path.is_file() else pd.DataFrame()

    @property
    def figures(self) -> list[Path]:
        """The run's pictures (PNG files in its output folder)."""
        return sorted((self.out_dir / FIGURES_DIR).glob("*.png"))

    @property
    def model(self) -> Any:
        """The MLflow pyfunc model (raw rows in, predictions out), loaded on first use; None
        for a run without a logged model."""
        if self._model is None and self.run_id is not None and self.tracking_uri is not None:
            import mlflow

            model_uri = run_summary_tags(self.tracking_uri, self.run_id).get("model_uri")
            if model_uri:
                mlflow.set_tracking_uri(self.tracking_uri)  # a models:/ URI is the store's
                self._model = mlflow.pyfunc.load_model(model_uri)
        return self._model

    def show(self) -> None:
        """Display the run's pictures inline (a notebook) or print their paths."""
        show_files(self.figures)


def run_summary_tags(uri: str, run_id: str) -> dict[str, str]:
    from pipeline.tracking.store import mlflow_client

    return dict(mlflow_client(uri).get_run(run_id).data.tags)


def final_metrics(report: dict[str, Any]) -> dict[str, float]:
    """An untracked run's final metrics under the names a tracked run records them by."""
    if report.get("status") == "diverged" or "lr_range" in report:
        return dict(report.get("lr_range", {}))
    from pipeline.model.metrics import flat_metrics, report_metrics

    return flat_metrics(report_metrics(report))


def run_from_job(
    cfg: Config | None,
    out_dir: Path,
    report: dict[str, Any] | None,
    status: str,
    summary: RunSummary | None = None,
) -> Run:
    """The `Run` of a job that ran in `out_dir`: its metrics from `summary` (a sweep's read
    back), else from the store, else (tracking off) from its report."""
    if cfg is None or report is None:  # failed before or while training: its job.json says what
        record = read_json(out_dir / JOB_FILE) if (out_dir / JOB_FILE).is_file() else {}
        return Run(record.get("run_id"), out_dir.name, "failed", cfg, {}, out_dir)
    run_id = report.get("run_id")
    uri = resolve_tracking_uri(cfg.tracking, cfg.paths) if cfg.tracking.enabled else None
    if run_id is None:
        metrics = final_metrics(report)
    elif summary is None:
        metrics = run_summary(cfg.tracking, cfg.paths, run_id).metrics
    else:
        metrics = summary.metrics
    name = report.get("run_name") or cfg.tracking.run_name
    return Run(run_id, name, status, cfg, metrics, out_dir, uri)


@dataclass
class Sweep:
    """A sweep: `parent_run_id` (None without tracking), `runs` (one `Run` per job, in job
    order), `table` (the comparison, comparison.csv's columns), `figures` (the comparison's
    pictures), `verdict` (the best variant against the second, seed by seed; None where the
    seeds allow none), `failed` (the failed jobs' records), `out_dir`."""

    parent_run_id: str | None
    runs: list[Run]
    table: pd.DataFrame
    figures: list[Path]
    verdict: str | None
    out_dir: Path
    failed: list[dict[str, Any]] = field(default_factory=list)

    def show(self) -> None:
        """Display the comparison's table and pictures inline (a notebook) or print their paths."""
        show_files(self.figures, self.table)


def sweep_result(sweep_dir: Path, outcomes: Sequence[Any], end: Any, metric: str) -> Sweep:
    """The `Sweep` of the jobs' outcomes (pipeline.experiments.execute.JobOutcome) and the
    sweep's end (pipeline.experiments.sweep_run.SweepEnd)."""
    summaries = {r.run_id: r for r in end.runs}
    runs = []
    for num, outcome in enumerate(outcomes):
        report = outcome.report
        summary = summaries.get(report.get("run_id")) if report else None
        runs.append(run_from_job(outcome.cfg, sweep_dir / str(num), report, outcome.status, summary))
    table = end.table
    verdict = paired_verdict(table, ranking_metric(end.runs, metric)) if not table.empty else None
    figures = sorted((sweep_dir / COMPARISON_DIR).glob("*.png"))
    return Sweep(end.parent_run_id, runs, table, figures, verdict, sweep_dir, end.failed)


def runs_frame(summaries: Sequence[RunSummary]) -> pd.DataFrame:
    """One row per run: run_id, run_name, status, start_time, then `params.*`, `metrics.*`,
    `tags.*` (mlflow.search_runs' column names)."""
    rows = []
    for run in summaries:
        row: dict[str, Any] = {
            "run_id": run.run_id,
            "run_name": run.name,
            "status": run.status,
            "start_time": pd.to_datetime(run.start_time, unit="ms", utc=True),
        }
        row |= {f"params.{k}": v for k, v in run.params.items()}
        row |= {f"metrics.{k}": v for k, v in run.metrics.items()}
        row |= {f"tags.{k}": v for k, v in run.tags.items()}
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=["run_id", "run_name", "status", "start_time"])
    leading = ["run_id", "run_name", "status", "start_time"]
    rest = sorted(c for c in frame.columns if c not in leading)
    order = [c for p in ("metrics.", "params.", "tags.") for c in rest if c.startswith(p)]
    return frame[leading + order]
