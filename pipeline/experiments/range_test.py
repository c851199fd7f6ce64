"""A learning-rate range test as a Hydra job (`training.lr_range.enabled=true`): one MLflow
run that records the loss against the rate, the suggested rate and the picture, in place of
training and evaluating the network (pipeline.model.lr_range)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.core.config import Config
from pipeline.core.files import FIGURES_DIR, LR_RANGE_FIGURE, LR_RANGE_FILE, UNSENT_FILE
from pipeline.core.io import write_with
from pipeline.data.cache import ensure_prepared
from pipeline.data.prepared import design_matrix, load_prepared
from pipeline.model.lr_range import RangeTest, range_test
from pipeline.reports.lr_range_plot import range_test_figure
from pipeline.tracking.recorder import RUN_STATUS_TAG, tracked_run
from pipeline.tracking.records import recorded_params


def summary(result: RangeTest) -> dict[str, float]:
    """The run-level numbers: the suggested rate, where the loss exploded, the lowest
    smoothed loss and how many batches ran (the rates that are None are left out)."""
    numbers = {
        "lr_suggested": result.suggested,
        "lr_exploded_at": result.exploded_at,
        "lr_range_best_loss": result.best,
        "lr_range_batches": float(len(result.rates)),
    }
    return {k: float(v) for k, v in numbers.items() if v is not None}


def describe_range(result: RangeTest) -> str:
    """The line the job prints at its end."""
    if not result.rates:
        return "lr_range: the loss was not finite at the first rate; lower training.lr_range.min_lr"
    span = f"{len(result.rates)} batches from {result.rates[0]:.3g} to {result.rates[-1]:.3g}"
    found = (
        f"the loss fell fastest at {result.suggested:.3g} (suggested)"
        if result.suggested is not None
        else "no rate where the loss fell (raise training.lr_range.max_lr)"
    )
    end = f", and exploded at {result.exploded_at:.3g}" if result.exploded_at is not None else ""
    return f"lr_range: {span}; {found}{end}"


def run_range_job(
    cfg: Config, out_dir: Path, parent_run_id: str | None = None, tags: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Run the range test of `cfg` on its prepared training rows, write its table and picture
    under `out_dir`, record them in one MLflow run (with `tags` too); the report, with the
    run's id and name."""
    started = time.perf_counter()
    run_name = f"lr_range-{cfg.tracking.run_name}"
    with tracked_run(
        cfg.tracking,
        cfg.paths,
        run_name=run_name,
        tags={"mode": "lr_range", **(tags or {})},
        parent_run_id=parent_run_id,
        unsent=out_dir / UNSENT_FILE,
    ) as recorder:
        if recorder is not None:
            recorder.log_params(recorded_params(cfg))
        prepared = load_prepared(ensure_prepared(cfg.dataset, cfg.split, cfg.paths))
        train = design_matrix(prepared, "train", cfg.training)
        classes = len(prepared.classes)
        result = range_test(cfg.model, cfg.optimizer, cfg.training, train, prepared.task, classes)
        columns = {"learning_rate": result.rates, "loss": result.losses, "smoothed": result.smoothed}
        table = pd.DataFrame(columns)
        write_with(out_dir / LR_RANGE_FILE, lambda p: table.to_csv(p, index=False))
        picture = range_test_figure(result, out_dir / FIGURES_DIR / LR_RANGE_FIGURE)
        numbers = summary(result)
        if recorder is not None:
            for step, row in enumerate(table.itertuples(index=False), 1):
                values = {"lr_range/learning_rate": row.learning_rate, "lr_range/loss": row.loss}
                recorder.log_metrics(values | {"lr_range/smoothed_loss": row.smoothed}, step=step)
            recorder.log_metrics(numbers)
            recorder.set_tags({RUN_STATUS_TAG: "finished"})
            recorder.log_artifact(out_dir / LR_RANGE_FILE, "reports")
            recorder.log_artifact(picture, "figures")
        run_id = recorder.run_id if recorder is not None else None
    print(describe_range(result))
    return {
        "status": "finished",
        "task": prepared.task,
        "lr_range": numbers,
        "cv": {},
        "run_id": run_id,
        "run_name": run_name,
        "epochs_run": 0,
        "training_time_s": time.perf_counter() - started,
    }
