"""Train a network from config and record it: the model with its preprocessing spec, the
history, the pictures and the run's metrics and tags. The train stage (pipeline.stages.train)
and a Hydra job (pipeline.experiments.job) both run `train_and_record`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from pipeline.core.config import Config, TrainingConfig
from pipeline.core.files import DISTRIBUTIONS_FILE, MODEL_FILE, PREPROCESSING_FILE
from pipeline.core.io import TABLE_DIGITS, atomic_dir, significant, write_json, write_with
from pipeline.data.fingerprint import refuse_other_config
from pipeline.data.prepared import Prepared, design_matrix
from pipeline.reports.progress import epoch_progress
from pipeline.tracking.recorder import RunRecorder
from pipeline.tracking.records import log_model, log_training_data, model_tags, number_metrics, run_tags

if TYPE_CHECKING:
    from pipeline.model.training import TrainResult
    from pipeline.reports.figures import Drawer


def preprocessing_spec(prepared: Prepared, training: TrainingConfig) -> dict[str, Any]:
    """What the served model needs to turn raw rows into inputs and outputs into units."""
    clusters = prepared.scaler.get("clusters")
    return {
        **prepared.schema,
        **({"clusters": clusters} if clusters else {}),
        "features": prepared.scaler["features"],
        "target": prepared.scaler["target"],
        "target_column": prepared.schema["target"],
        "scale_features": training.scale_features,
        "scale_target": training.scale_target,
    }


def train_and_record(
    cfg: Config,
    prepared: Prepared,
    model_dir: Path,
    history_file: Path,
    recorder: RunRecorder | None,
    figures_dir: Path | None = None,
    drawer: Drawer | None = None,
    rounded: bool = False,
) -> TrainResult:
    """Train; write the model with its preprocessing spec, the history and (into
    `figures_dir`) the pictures; record them all in the run, if any. With a `drawer` of the
    caller's, the pictures are left pending in it: whoever waits on it logs them (the job
    does, after evaluation, so that drawing overlaps the rest of the run). Prepared data made
    from another dataset or split config than `cfg`'s is refused before anything trains. With
    `rounded` (the stage's git-tracked history), the history file keeps `TABLE_DIGITS`
    significant digits; the run's metrics are whole either way."""
    refuse_other_config(prepared.manifest, prepared.directory, cfg.dataset, cfg.split)
    # TensorFlow is imported here, not with this module: the stage's config, data and
    # tracking errors come before its 3 to 7 s (pipeline.core.quiet)
    from pipeline.model.artifact import save_model
    from pipeline.model.distributions import summaries
    from pipeline.model.training import fit, history_frame, summary_metrics
    from pipeline.reports.figures import Drawer, training_figures

    own_drawer = drawer is None
    drawer = drawer or Drawer()
    train = design_matrix(prepared, "train", cfg.training)
    validation = design_matrix(prepared, "validation", cfg.training)
    if recorder is not None:
        recorder.set_tags(model_tags(prepared.task, prepared.classes, prepared.schema["raw_features"]))
        log_training_data(
            recorder, prepared.directory / "train.parquet", cfg.dataset.name, prepared.schema["target"]
        )

    with epoch_progress(cfg.training, "train") as progress:

        def log_epoch(row: dict[str, float]) -> None:
            progress(row)
            if recorder is not None:
                recorder.log_metrics({k: v for k, v in row.items() if k != "epoch"}, step=int(row["epoch"]))

        result = fit(
            cfg.model,
            cfg.optimizer,
            cfg.training,
            train,
            validation,
            on_epoch=log_epoch,
            task=prepared.task,
            classes=len(prepared.classes),
        )
    with atomic_dir(model_dir) as tmp:
        save_model(result.model, tmp / MODEL_FILE)
        write_json(tmp / PREPROCESSING_FILE, preprocessing_spec(prepared, cfg.training))
    history = significant(result.history, TABLE_DIGITS) if rounded else result.history
    write_with(history_file, lambda p: history_frame(history).to_csv(p, index=False))
    distributions_file = None
    if result.distributions and figures_dir is not None:  # quantiles per layer and moment, for a notebook
        figures_dir.mkdir(parents=True, exist_ok=True)
        distributions_file = figures_dir / DISTRIBUTIONS_FILE
        write_json(distributions_file, {m: summaries(v) for m, v in result.distributions.items()})
    if figures_dir is not None:
        training_figures(result, prepared, cfg.training, figures_dir, drawer)
    if recorder is None:
        if own_drawer:
            drawer.wait()
        return result
    if result.divergence is not None:
        recorder.status = "FAILED"
    elif cfg.tracking.log_model:
        log_model(
            recorder,
            model_dir / MODEL_FILE,
            model_dir / PREPROCESSING_FILE,
            prepared.schema["raw_dtypes"],
            prepared.classes,
        )
    recorder.log_metrics(summary_metrics(result) | number_metrics(cfg, result.model.count_params()))
    recorder.set_tags(run_tags(cfg.dataset.name, prepared.manifest["md5"]["train"], result))
    recorder.log_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False), "config.yaml")
    recorder.log_artifact(history_file, "reports")
    if distributions_file is not None:
        recorder.log_artifact(distributions_file, "reports")
    if own_drawer:
        for picture in drawer.wait():
            recorder.log_artifact(picture, "figures")
    return result
