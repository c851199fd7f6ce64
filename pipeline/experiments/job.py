"""One Hydra job: prepared data, optional cross-validation, train, evaluate, one MLflow run."""

from __future__ import annotations

import math
import shlex
import socket
import sys
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from pipeline.core.config import Config
from pipeline.core.files import (
    FIGURES_DIR,
    HISTORY_FILE,
    METRICS_FILE,
    MODEL_DIR,
    PREDICTIONS_FILE,
    UNSENT_FILE,
)
from pipeline.data.cache import ensure_prepared
from pipeline.data.prepared import load_prepared
from pipeline.experiments.crossval import cross_validate
from pipeline.experiments.range_test import run_range_job
from pipeline.model.training import describe
from pipeline.reports.figures import Drawer
from pipeline.stages.evaluate import evaluate_and_record
from pipeline.stages.train import train_and_record
from pipeline.tracking.owner import source_tags
from pipeline.tracking.recorder import tracked_run
from pipeline.tracking.records import recorded_params
from pipeline.tracking.store import mlflow_client


def placement_tags() -> dict[str, str]:
    """Where the job ran: the host, and the Ray node when the Ray launcher placed it."""
    tags = {"host": socket.gethostname()}
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        tags["ray_node_id"] = ray.get_runtime_context().get_node_id()
    return tags


def job_source() -> dict[str, str]:
    """A sweep job's Source tags: the command that runs this job alone, with its own overrides
    (the process is the sweep's, or a launcher's worker); none outside a sweep, where the
    run takes its process's command line."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return {}
    overrides = list(HydraConfig.get().overrides.task)
    return source_tags(shlex.join(["python", "-m", "pipeline.run", *overrides]))


class LatePictures:
    """A sweep's per-run pictures still being drawn in the picture pool when their runs
    ended: `log()` waits for them and adds each to its run's `figures/` (at the sweep's end),
    so that drawing never holds up the next job."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, str, Drawer]] = []

    def add(self, uri: str, run_id: str, drawer: Drawer) -> None:
        self.runs.append((uri, run_id, drawer))

    def log(self, drawn_only: bool = False) -> int:
        """Wait for every picture (with `drawn_only`, take those already drawn) and log it
        into its run; the number logged. A picture the store does not take is a warning,
        never a failure of the sweep."""
        logged = 0
        runs, self.runs = self.runs, []
        for uri, run_id, drawer in runs:
            client = mlflow_client(uri)
            for picture in drawer.drawn() if drawn_only else drawer.wait():
                try:
                    client.log_artifact(run_id, str(picture), "figures")
                    logged += 1
                except Exception as err:  # noqa: BLE001 - the run's record stands without it
                    print(f"warning: picture {picture} not added to run {run_id}: {err}", file=sys.stderr)
        return logged


def run_job(
    cfg: Config,
    out_dir: Path,
    parent_run_id: str | None = None,
    pool: Executor | None = None,
    late: LatePictures | None = None,
) -> dict[str, Any]:
    """Prepare data if needed, cross-validate if asked, train, evaluate: one MLflow run whose
    record is complete when this returns, in the store or, if the tracking server stopped
    answering, in `out_dir`'s unsent record (pipeline.tracking.spool). Writes the model,
    history, metrics, predictions and pictures (drawn in `pool` when given) under `out_dir`;
    returns the metrics report with the run's id. With `late` (a sweep's jobs), the run's
    pictures are handed to it instead of waited for: they are in `out_dir` and in the run
    once `late.log()` has returned. With `training.lr_range.enabled`, the run is a learning-rate
    range test instead (pipeline.experiments.range_test)."""
    if cfg.training.lr_range.enabled:
        return run_range_job(cfg, out_dir, parent_run_id, {**placement_tags(), **job_source()})
    drawer = Drawer(pool)
    with tracked_run(
        cfg.tracking,
        cfg.paths,
        run_name=cfg.tracking.run_name,
        tags={**placement_tags(), **job_source()},
        parent_run_id=parent_run_id,
        unsent=out_dir / UNSENT_FILE,
    ) as recorder:
        if recorder is not None:
            recorder.log_params(recorded_params(cfg))
        prepared = load_prepared(ensure_prepared(cfg.dataset, cfg.split, cfg.paths))
        cv = (
            cross_validate(cfg.model, cfg.optimizer, cfg.training, cfg.split.seed, prepared)
            if cfg.training.cv_folds >= 2
            else {}
        )
        if recorder is not None and cv:
            recorder.log_metrics(cv)
        figures = out_dir / FIGURES_DIR
        result = train_and_record(
            cfg, prepared, out_dir / MODEL_DIR, out_dir / HISTORY_FILE, recorder, figures, drawer
        )
        report = evaluate_and_record(
            cfg.training,
            prepared,
            result.model,
            result.status,
            out_dir / METRICS_FILE,
            out_dir / PREDICTIONS_FILE,
            recorder,
            figures,
            drawer,
        )
        spooling = recorder is not None and recorder.spool is not None and recorder.spool.active
        if late is not None and recorder is not None and not spooling:
            late.add(recorder.uri, recorder.run_id, drawer)
        else:
            for picture in drawer.wait():
                if recorder is not None:
                    recorder.log_artifact(picture, "figures")
        run_id = recorder.run_id if recorder is not None else None
    print(describe(result))
    return {
        **report,
        "cv": cv,
        "run_id": run_id,
        "run_name": cfg.tracking.run_name,
        "epochs_run": result.epochs_run,
        "training_time_s": result.seconds,
    }


def objective(report: dict[str, Any]) -> float:
    """What a sweeper minimizes: the cross-validated or validation MSE on the scaled target;
    for a classifier the cross-validated or validation log loss."""
    if report.get("status") == "diverged":
        return math.inf
    if "lr_range" in report:  # a range test: its lowest smoothed training loss
        return float(report["lr_range"].get("lr_range_best_loss", math.inf))
    classifier = report.get("task", "regression") != "regression"
    if report.get("cv"):
        return float(report["cv"]["cv_val_log_loss_mean" if classifier else "cv_val_mse_mean"])
    if classifier:
        return float(report["validation"]["log_loss"])
    return float(report["validation"]["scaled"]["mse"])
