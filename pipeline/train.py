"""Stage 4, train: build the network from config, train it, record the run in MLflow."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from pipeline import engine
from pipeline.config import Config, flatten, load_config
from pipeline.data import Prepared, design_matrix, load_prepared
from pipeline.errors import process_main, run_cli
from pipeline.features import standardize, unstandardize
from pipeline.io import atomic_dir, write_json, write_with
from pipeline.model import build_model, make_optimizer
from pipeline.recorder import Pictures
from pipeline.tracking import RUN_STATUS_TAG, RunRecorder, git_commit, tracked_run

MODEL_FILE = "model.keras"
PREPROCESSING_FILE = "preprocessing.json"
RUN_FILE = "run.json"
HISTORY_COLUMNS = ("epoch", "train_loss", "train_mse", "val_loss", "val_mse", "learning_rate")


@dataclass
class Divergence:
    epoch: int  # 1-based
    batch: int  # 1-based, within the epoch
    loss: float


@dataclass
class TrainResult:
    model: keras.Model
    history: list[dict[str, float]]
    epochs_run: int
    seconds: float
    stopped_epoch: int | None = None  # 1-based epoch at which early stopping ended training
    best_epoch: int | None = None  # 1-based epoch whose weights were restored
    divergence: Divergence | None = None
    max_grad_norm: float = 0.0  # largest finite kernel gradient norm of any step (diagnostics on)
    max_grad_layer: str | None = None

    def end_of_training(self, quantity: str) -> float | None:
        """Mean over layers of the last epoch's `diag/<layer>/<quantity>`, if recorded."""
        last = self.history[-1] if self.history else {}
        values = [v for k, v in last.items() if k.startswith("diag/") and k.endswith(f"/{quantity}")]
        return sum(values) / len(values) if values else None

    @property
    def status(self) -> str:
        if self.divergence is not None:
            return "diverged"
        return "early_stopped" if self.stopped_epoch is not None else "finished"


DIAGNOSTICS_AUTO_MAX_PARAMS = 2_000


def diagnostics_enabled(setting: bool | str, model: keras.Model) -> bool:
    """`auto`: on for networks up to DIAGNOSTICS_AUTO_MAX_PARAMS parameters (docs/diagnostics.md)."""
    if setting == "auto":
        return model.count_params() <= DIAGNOSTICS_AUTO_MAX_PARAMS
    return bool(setting)


def fit(
    cfg: Config,
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray],
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> TrainResult:
    """Seed, build and train the configured network with the fused loop (see engine.py)."""
    engine.use_threads(cfg.training.threads)
    engine.use_graph_optimizer(cfg.training.graph_optimizer)
    keras.utils.set_random_seed(cfg.training.seed)
    model = build_model(train[0].shape[1], cfg.model)
    es = cfg.training.early_stopping
    stopper = (
        engine.EarlyStopping(es.monitor, es.patience, es.min_delta, es.restore_best_weights)
        if es.enabled
        else None
    )
    started = time.perf_counter()
    outcome = engine.train(
        model,
        make_optimizer(cfg.optimizer),
        train,
        validation,
        epochs=cfg.training.epochs,
        batch_size=cfg.training.batch_size,
        seed=cfg.training.seed,
        early_stopping=stopper,
        on_epoch=on_epoch,
        diagnostics=diagnostics_enabled(cfg.training.diagnostics, model),
        probe_rows=cfg.training.diagnostics_rows,
    )
    result = TrainResult(model, outcome.history, len(outcome.history), time.perf_counter() - started)
    result.max_grad_norm, result.max_grad_layer = outcome.max_grad_norm, outcome.max_grad_layer
    if outcome.diverged_at is not None:
        result.divergence = Divergence(*outcome.diverged_at)
    result.stopped_epoch, result.best_epoch = outcome.stopped_epoch, outcome.best_epoch
    return result


def history_frame(history: list[dict[str, float]]) -> pd.DataFrame:
    """Epoch, losses, learning rate, then any diagnostics, one row per epoch."""
    frame = pd.DataFrame(history)
    first = [c for c in HISTORY_COLUMNS if c in frame.columns]
    return frame[first + [c for c in frame.columns if c not in first]]


def preprocessing_spec(prepared: Prepared, cfg: Config) -> dict[str, Any]:
    """What the served model needs to turn raw rows into inputs and outputs into units."""
    return {
        **prepared.schema,
        "features": prepared.scaler["features"],
        "target": prepared.scaler["target"],
        "target_column": prepared.schema["target"],
        "scale_features": cfg.training.scale_features,
        "scale_target": cfg.training.scale_target,
    }


def recorded_params(cfg: Config) -> dict[str, Any]:
    """The whole resolved config as dotted keys; a tracking URI's credentials are removed."""
    params = flatten(cfg.model_dump(mode="json"))
    uri = params.get("tracking.uri")
    if isinstance(uri, str) and "@" in uri:
        scheme, _, rest = uri.partition("://")
        params["tracking.uri"] = f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return params


def run_tags(cfg: Config, prepared: Prepared, result: TrainResult) -> dict[str, Any]:
    tags: dict[str, Any] = {
        RUN_STATUS_TAG: result.status,
        "git_commit": git_commit(),
        "dataset": cfg.dataset.name,
        "data.train_md5": prepared.manifest["md5"]["train"],
        "epochs_run": result.epochs_run,
    }
    if result.stopped_epoch is not None:
        tags |= {"stopped_epoch": result.stopped_epoch, "best_epoch": result.best_epoch}
    if result.divergence is not None:
        d = result.divergence
        tags |= {"diverged": "true", "diverged_epoch": d.epoch, "diverged_batch": d.batch}
        if result.max_grad_layer is not None:
            tags |= {
                "diverged_max_grad_norm": f"{result.max_grad_norm:.6g}",
                "diverged_max_grad_layer": result.max_grad_layer,
            }
    if result.max_grad_layer is not None:
        tags["max_grad_layer"] = result.max_grad_layer
    return tags


def summary_metrics(result: TrainResult) -> dict[str, float]:
    """Run-level numbers: epochs, time, and diagnostics at a glance for the comparison."""
    metrics: dict[str, float] = {"epochs_run": result.epochs_run, "training_time_s": result.seconds}
    if result.max_grad_layer is not None:
        metrics["max_grad_norm"] = result.max_grad_norm
    dead = result.end_of_training("dead_fraction")
    if dead is not None:
        metrics["dead_fraction_end"] = dead
    saturated = result.end_of_training("saturated_fraction")
    if saturated is not None:
        metrics["saturated_fraction_end"] = saturated
    return metrics


def function_view(model: keras.Model, prepared: Prepared, cfg: Config, points: int = 400) -> dict[str, Any]:
    """For one-input data: the input grid, the fitted function and every hidden unit's
    activation over it, in the data's own units."""
    feature = prepared.schema["encoded_features"][0]
    values = np.concatenate([prepared.parts[p][feature].to_numpy() for p in prepared.parts])
    grid = np.linspace(values.min(), values.max(), points)
    x = grid.reshape(-1, 1)
    if cfg.training.scale_features:
        x = standardize(x, prepared.scaler["features"])
    h = tf.convert_to_tensor(x, tf.float32)
    activations, names = [], []
    for layer in engine.dense_layers(model)[:-1]:
        h = layer(h, training=False)
        activations.append(np.asarray(h))
        names.append(layer.name)
    fitted = engine.predict(model, x.astype("float32"))
    if cfg.training.scale_target:
        fitted = unstandardize(fitted, prepared.target_stats)
    target = prepared.schema["target"]
    points_by_part = {
        p: (prepared.parts[p][feature].to_numpy(), prepared.parts[p][target].to_numpy())
        for p in ("train", "validation")
    }
    return {
        "grid": grid,
        "fitted": fitted,
        "points": points_by_part,
        "activations": activations,
        "names": names,
    }


def training_figures(
    result: TrainResult, prepared: Prepared, cfg: Config, folder: Path, pictures: Pictures
) -> None:
    """Learning curves, per-layer diagnostics and, for one-input data, the fitted function
    and the hidden units' activations (drawn by the drawing helper; one that cannot be drawn
    is skipped with a warning)."""
    history = history_frame(result.history)
    pictures.draw(
        "learning_curves", history, folder / "learning_curves.png", result.stopped_epoch, result.best_epoch
    )
    pictures.draw("layer_diagnostics", history, folder / "layer_diagnostics.png")
    if len(prepared.schema["encoded_features"]) == 1 and result.divergence is None:
        view = function_view(result.model, prepared, cfg)
        feature, target = prepared.schema["encoded_features"][0], prepared.schema["target"]
        pictures.draw(
            "function_fit",
            view["grid"],
            view["fitted"],
            view["points"],
            feature,
            target,
            folder / "function_fit.png",
        )
        if view["activations"]:
            pictures.draw(
                "unit_activations",
                view["grid"],
                view["activations"],
                view["names"],
                feature,
                folder / "unit_activations.png",
            )


def train_and_record(
    cfg: Config,
    prepared: Prepared,
    model_dir: Path,
    history_file: Path,
    recorder: RunRecorder | None,
    figures_dir: Path | None = None,
) -> TrainResult:
    """Train; write the model, its preprocessing spec, the history and the pictures;
    record it all."""
    train = design_matrix(prepared, "train", cfg.training)
    validation = design_matrix(prepared, "validation", cfg.training)
    if recorder is not None:
        recorder.log_training_data(prepared.directory, "train", cfg.dataset.name, prepared.schema["target"])

    def log_epoch(row: dict[str, float]) -> None:
        if recorder is not None:
            metrics = {k: v for k, v in row.items() if k != "epoch"}
            recorder.log_metrics(metrics, step=int(row["epoch"]))

    result = fit(cfg, train, validation, on_epoch=log_epoch)
    with atomic_dir(model_dir) as tmp:
        result.model.save(tmp / MODEL_FILE)
        write_json(tmp / PREPROCESSING_FILE, preprocessing_spec(prepared, cfg))
    if recorder is not None:  # the model first: the longest call, done while the rest goes on
        if result.divergence is not None:
            recorder.status = "FAILED"
        elif cfg.tracking.log_model:
            recorder.log_model(
                model_dir / MODEL_FILE, model_dir / PREPROCESSING_FILE, prepared.schema["raw_dtypes"]
            )
    pictures = Pictures(recorder) if figures_dir is not None else None
    if pictures is not None and figures_dir is not None:
        training_figures(result, prepared, cfg, figures_dir, pictures)
    write_with(history_file, lambda p: history_frame(result.history).to_csv(p, index=False))
    if recorder is not None:
        recorder.log_metrics(summary_metrics(result))
        recorder.set_tags(run_tags(cfg, prepared, result))
        recorder.log_text(cfg_yaml(cfg), "config.yaml")
        recorder.log_artifact(history_file, "reports")
    if pictures is not None:
        pictures.wait()
    return result


def cfg_yaml(cfg: Config) -> str:
    import yaml

    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)


def describe(result: TrainResult) -> str:
    if result.divergence is not None:
        d = result.divergence
        grad = (
            f"; largest gradient norm before it {result.max_grad_norm:.3g} in layer {result.max_grad_layer}"
            if result.max_grad_layer
            else ""
        )
        return (
            f"train: DIVERGED: the loss became {d.loss} in epoch {d.epoch}, batch {d.batch}{grad}; "
            "the run is recorded as diverged (status FAILED)"
        )
    last = result.history[-1]
    stop = f", early-stopped at epoch {result.stopped_epoch}" if result.stopped_epoch else ""
    return (
        f"train: {result.epochs_run} epochs in {result.seconds:.1f}s{stop}; "
        f"final train_loss {last['train_loss']:.4g}, val_loss {last['val_loss']:.4g}"
    )


def main() -> None:
    cfg = load_config()
    prepared = load_prepared(cfg.paths.processed_dir)
    model_dir = Path(cfg.paths.model_dir)
    with tracked_run(cfg.tracking, cfg.paths, run_name=cfg.tracking.run_name) as recorder:
        if recorder is not None:
            recorder.log_params(recorded_params(cfg))
        result = train_and_record(
            cfg, prepared, model_dir, Path(cfg.paths.history), recorder, Path(cfg.paths.train_figures)
        )
        run_id = recorder.run_id if recorder is not None else None
    write_json(model_dir / RUN_FILE, {"run_id": run_id, "status": result.status})
    print(describe(result) + (f" (MLflow run {run_id})" if run_id else ""))


if __name__ == "__main__":
    process_main(lambda: run_cli(main))
