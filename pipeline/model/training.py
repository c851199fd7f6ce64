"""Fitting one configured network: seeded, built from config, trained with the fused loop."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from pipeline.core.config import ModelConfig, OptimizerConfig, TrainingConfig
from pipeline.data.features import standardize, unstandardize
from pipeline.data.prepared import Prepared
from pipeline.model import engine
from pipeline.model.diagnostics import dense_layers, weight_summary
from pipeline.model.distributions import layer_values
from pipeline.model.losses import output_units
from pipeline.model.network import build_model, make_optimizer

HISTORY_COLUMNS = (
    "epoch",
    "train_loss",
    "train_mse",
    "train_crossentropy",
    "train_accuracy",
    "val_loss",
    "val_mse",
    "val_crossentropy",
    "val_accuracy",
    "learning_rate",
)
DIAGNOSTICS_AUTO_MAX_PARAMS = 2_000
DISTRIBUTION_ROWS = 1024  # training rows the per-layer distributions are taken on


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
    # with diagnostics: moment ("epoch 0", "epoch 1", ..., "end") -> layer -> quantity -> values
    distributions: dict[str, dict[str, dict[str, np.ndarray]]] = field(default_factory=dict)

    def at_epoch(self, epoch: int) -> dict[str, float]:
        """The history row of `epoch` (0: the start, before any update)."""
        return next(row for row in self.history if row["epoch"] == epoch)

    def end_of_training(self, quantity: str) -> float | None:
        """Mean over layers of the last epoch's `diag/<layer>/<quantity>`, if recorded."""
        last = self.history[-1] if self.history else {}
        values = [v for k, v in last.items() if k.startswith("diag/") and k.endswith(f"/{quantity}")]
        return sum(values) / len(values) if values else None

    @property
    def status(self) -> str:
        """`diverged`, `early_stopped` or `finished`."""
        if self.divergence is not None:
            return "diverged"
        return "early_stopped" if self.stopped_epoch is not None else "finished"


def diagnostics_enabled(setting: bool | str, model: keras.Model) -> bool:
    """`auto`: on for networks up to DIAGNOSTICS_AUTO_MAX_PARAMS parameters (docs/diagnostics.md)."""
    if setting == "auto":
        return model.count_params() <= DIAGNOSTICS_AUTO_MAX_PARAMS
    return bool(setting)


def fit(
    network: ModelConfig,
    optimizer: OptimizerConfig,
    training: TrainingConfig,
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray],
    on_epoch: Callable[[dict[str, float]], None] | None = None,
    task: str = "regression",
    classes: int = 0,
) -> TrainResult:
    """Seed, build and train the configured network for `task` (with `classes` classes for
    classification); the same config and data give the same weights and history.
    `on_epoch` gets each epoch's history row as it is made, starting with epoch 0 (the
    network as initialized, before any update)."""
    engine.use_threads(training.threads)
    engine.use_graph_optimizer(training.graph_optimizer)
    keras.utils.set_random_seed(training.seed)
    model = build_model(train[0].shape[1], network, output_units(task, classes), task)
    es = training.early_stopping
    stopper = (
        engine.EarlyStopping(es.monitor, es.patience, es.min_delta, es.restore_best_weights)
        if es.enabled
        else None
    )
    diagnostics = diagnostics_enabled(training.diagnostics, model)
    rows = min(training.diagnostics_rows, DISTRIBUTION_ROWS)
    moments: dict[str, dict[str, dict[str, np.ndarray]]] = {}

    def snapshot(epoch: int | str, net: keras.Model) -> None:
        moments["end" if epoch == "end" else f"epoch {epoch}"] = layer_values(
            net, train[0][:rows], train[1][:rows], task
        )

    distributions = diagnostics and training.distributions
    if distributions:
        snapshot(0, model)
    started = time.perf_counter()
    outcome = engine.train(
        model,
        make_optimizer(optimizer),
        train,
        validation,
        epochs=training.epochs,
        batch_size=training.batch_size,
        seed=training.seed,
        early_stopping=stopper,
        on_epoch=on_epoch,
        diagnostics=diagnostics,
        probe_rows=training.diagnostics_rows,
        task=task,
        on_snapshot=snapshot if distributions else None,
        snapshot_every=training.distributions_every,
    )
    epochs_run = sum(1 for row in outcome.history if row["epoch"] >= 1)  # row 0: the start
    result = TrainResult(model, outcome.history, epochs_run, time.perf_counter() - started)
    result.max_grad_norm, result.max_grad_layer = outcome.max_grad_norm, outcome.max_grad_layer
    if outcome.diverged_at is not None:
        result.divergence = Divergence(*outcome.diverged_at)
    result.stopped_epoch, result.best_epoch = outcome.stopped_epoch, outcome.best_epoch
    if distributions:  # the network as it ends (the best epoch's weights when restored)
        snapshot("end", model)
        result.distributions = moments
    return result


def history_frame(history: list[dict[str, float]]) -> pd.DataFrame:
    """Epoch, losses, learning rate, then any diagnostics, one row per epoch."""
    frame = pd.DataFrame(history)
    first = [c for c in HISTORY_COLUMNS if c in frame.columns]
    return frame[first + [c for c in frame.columns if c not in first]]


def summary_metrics(result: TrainResult) -> dict[str, float]:
    """Run-level numbers: epochs, time, and diagnostics at a glance for the comparison."""
    metrics: dict[str, float] = {"epochs_run": result.epochs_run, "training_time_s": result.seconds}
    if result.divergence is None:  # a diverged network's weights are no finding
        metrics |= weight_summary(result.model)
    if result.max_grad_layer is not None:
        metrics["max_grad_norm"] = result.max_grad_norm
    dead = result.end_of_training("dead_fraction")
    if dead is not None:
        metrics["dead_fraction_end"] = dead
    saturated = result.end_of_training("saturated_fraction")
    if saturated is not None:
        metrics["saturated_fraction_end"] = saturated
    return metrics


def describe(result: TrainResult) -> str:
    """The one line a run prints when training ends."""
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
    accuracy = f", val_accuracy {last['val_accuracy']:.4g}" if "val_accuracy" in last else ""
    return (
        f"train: {result.epochs_run} epochs in {result.seconds:.1f}s{stop}; "
        f"final train_loss {last['train_loss']:.4g}, val_loss {last['val_loss']:.4g}{accuracy}"
    )


def function_view(
    model: keras.Model, prepared: Prepared, training: TrainingConfig, points: int = 400
) -> dict[str, Any]:
    """For one-input data: the input grid, the fitted function and every hidden unit's
    activation over it, in the data's own units."""
    feature = prepared.schema["encoded_features"][0]
    values = np.concatenate([prepared.parts[p][feature].to_numpy() for p in prepared.parts])
    grid = np.linspace(values.min(), values.max(), points)
    x = grid.reshape(-1, 1)
    if training.scale_features:
        x = standardize(x, prepared.scaler["features"])
    h = tf.convert_to_tensor(x, tf.float32)
    activations, names = [], []
    for layer in dense_layers(model)[:-1]:
        h = layer(h, training=False)
        activations.append(np.asarray(h))
        names.append(layer.name)
    fitted = engine.predict(model, x.astype("float32"))
    if training.scale_target:
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
