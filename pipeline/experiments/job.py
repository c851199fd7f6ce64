"""One job: prepared data, optional cross-validation, train, evaluate, one MLflow run.

`LatePictures` lives in pipeline.experiments.sweep_state (imported here for older callers)."""

from __future__ import annotations

import math
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
from pipeline.experiments.sweep_state import LatePictures
from pipeline.model.training import describe
from pipeline.reports.figures import Drawer
from pipeline.steps.evaluate import evaluate_and_record
from pipeline.steps.train import train_and_record
from pipeline.tracking.owner import source_tags
from pipeline.tracking.recorder import tracked_run
from pipeline.tracking.records import recorded_params


def placement_tags() -> dict[str, str]:
    """Where the job ran: the host, and the Ray node when the Ray launcher placed it."""
    tags = {"host": socket.gethostname()}
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        tags["ray_node_id"] = ray.get_runtime_context().get_node_id()
    return tags


def run_job(
    cfg: Config,
    out_dir: Path,
    parent_run_id: str | None = None,
    pool: Executor | None = None,
    late: LatePictures | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    """Prepare data if needed, cross-validate if asked, train, evaluate: one MLflow run whose
    record is complete when this returns, in the store or, if the tracking server stopped
    answering, in `out_dir`'s unsent record (pipeline.tracking.spool). Writes the model,
    history, metrics, predictions and pictures (drawn in `pool` when given) under `out_dir`;
    returns the metrics report with the run's id. With `late` (a sweep's jobs), the run's
    pictures are handed to it instead of waited for: they are in `out_dir` and in the run
    once `late.log()` has returned. With `training.lr_range.enabled`, the run is a learning-rate
    range test instead (pipeline.experiments.range_test). `source` is the command the run's
    Source names (a sweep's job: the command that runs it alone); None: this process's."""
    tags = {**placement_tags(), **(source_tags(source) if source else {})}
    if cfg.training.lr_range.enabled:
        return run_range_job(cfg, out_dir, parent_run_id, tags)
    drawer = Drawer(pool)
    with tracked_run(
        cfg.tracking,
        cfg.paths,
        run_name=cfg.tracking.run_name,
        tags=tags,
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
