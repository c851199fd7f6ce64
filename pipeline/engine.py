"""A fused training loop: one compiled TensorFlow call per epoch.

`model.fit` spends tens of milliseconds per epoch on framework overhead (data adapters,
callbacks, a fresh evaluation pass), which dominates small networks. Here each epoch,
all its optimizer steps and the validation pass, runs as a single `tf.function` call.
The semantics match `fit`: the same optimizer steps (ceil(n / batch_size) per epoch,
rows reshuffled each epoch), loss = MSE + the layers' penalties, `mse` the plain MSE,
both averaged over the epoch's samples, validation after every epoch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from pipeline.model import current_learning_rate


@dataclass
class EarlyStopping:
    """Keras' EarlyStopping rule: stop after `patience` epochs without improvement."""

    monitor: str
    patience: int
    min_delta: float
    restore_best_weights: bool
    best: float = math.inf
    best_epoch: int | None = None
    best_weights: list[np.ndarray] | None = None
    wait: int = 0

    def update(self, epoch: int, logs: dict[str, float], model: keras.Model) -> bool:
        """Record epoch `epoch` (1-based); True when training should stop."""
        current = logs.get(self.monitor, math.nan)
        if not math.isfinite(current):
            return False
        self.wait += 1
        if current < self.best - self.min_delta or self.best_epoch is None:
            self.best, self.best_epoch, self.wait = current, epoch, 0
            if self.restore_best_weights:
                self.best_weights = model.get_weights()
            return False
        return self.wait >= self.patience and epoch > 1


@dataclass
class Outcome:
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_epoch: int | None = None  # 1-based
    best_epoch: int | None = None  # 1-based, whose weights were restored
    diverged_at: tuple[int, int, float] | None = None  # (epoch, batch, loss), 1-based


def _epoch_function(model: keras.Model, optimizer: keras.optimizers.Optimizer, batch_size: int) -> Any:
    variables = model.trainable_variables

    def penalty() -> tf.Tensor:
        losses = model.losses
        return tf.add_n(losses) if losses else tf.constant(0.0)

    @tf.function(reduce_retracing=True)
    def run_epoch(x: tf.Tensor, y: tf.Tensor, xv: tf.Tensor, yv: tf.Tensor, seed: tf.Tensor) -> Any:
        n = tf.shape(x)[0]
        order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=seed)
        steps = (n + batch_size - 1) // batch_size
        loss_sum = tf.constant(0.0)
        mse_sum = tf.constant(0.0)
        bad_batch = tf.constant(0)
        bad_loss = tf.constant(0.0)
        for step in tf.range(steps):
            rows = order[step * batch_size : tf.minimum((step + 1) * batch_size, n)]
            xb, yb = tf.gather(x, rows), tf.gather(y, rows)
            with tf.GradientTape() as tape:
                pred = tf.reshape(model(xb, training=True), [-1])
                mse = tf.reduce_mean(tf.square(pred - yb))
                loss = mse + penalty()
            optimizer.apply(tape.gradient(loss, variables), variables)
            count = tf.cast(tf.shape(rows)[0], tf.float32)
            loss_sum += loss * count
            mse_sum += mse * count
            if not tf.math.is_finite(loss):
                bad_batch = step + 1
                bad_loss = loss
                break
        seen = tf.cast(tf.minimum(steps * batch_size, n), tf.float32)
        if bad_batch > 0:
            seen = tf.cast(tf.minimum(bad_batch * batch_size, n), tf.float32)
        val_pred = tf.reshape(model(xv, training=False), [-1])
        val_mse = tf.reduce_mean(tf.square(val_pred - yv))
        return loss_sum / seen, mse_sum / seen, val_mse + penalty(), val_mse, bad_batch, bad_loss

    return run_epoch


def train(
    model: keras.Model,
    optimizer: keras.optimizers.Optimizer,
    train_data: tuple[np.ndarray, np.ndarray],
    validation_data: tuple[np.ndarray, np.ndarray],
    epochs: int,
    batch_size: int,
    seed: int,
    early_stopping: EarlyStopping | None = None,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> Outcome:
    """Train for up to `epochs`; stop at the first non-finite batch loss or by early stopping."""
    tf.get_logger().setLevel("ERROR")  # a new network per fit retraces by design; no warning
    optimizer.build(model.trainable_variables)
    run_epoch = _epoch_function(model, optimizer, batch_size)
    x, y = (tf.convert_to_tensor(a, dtype=tf.float32) for a in train_data)
    xv, yv = (tf.convert_to_tensor(a, dtype=tf.float32) for a in validation_data)
    outcome = Outcome()
    for epoch in range(1, epochs + 1):
        values = run_epoch(x, y, xv, yv, tf.constant([seed, epoch], dtype=tf.int64))
        loss, mse, val_loss, val_mse, bad_batch, bad_loss = (v.numpy() for v in values)
        row = {
            "epoch": epoch,
            "train_loss": float(loss),
            "train_mse": float(mse),
            "val_loss": float(val_loss),
            "val_mse": float(val_mse),
            "learning_rate": current_learning_rate(optimizer),
        }
        outcome.history.append(row)
        if on_epoch is not None:
            on_epoch(row)
        if int(bad_batch) > 0:
            outcome.diverged_at = (epoch, int(bad_batch), float(bad_loss))
            break
        if early_stopping is not None and early_stopping.update(epoch, row, model):
            outcome.stopped_epoch = epoch
            break
    if early_stopping is not None and early_stopping.restore_best_weights and outcome.diverged_at is None:
        if early_stopping.best_weights is not None:
            model.set_weights(early_stopping.best_weights)
            outcome.best_epoch = early_stopping.best_epoch
    return outcome


def predict(model: keras.Model, x: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """The model's outputs for `x` as float64, in chunks (no Keras predict-loop overhead)."""
    parts = [
        np.asarray(model(tf.convert_to_tensor(x[start : start + chunk], tf.float32), training=False))
        for start in range(0, len(x), chunk)
    ]
    return np.concatenate(parts).reshape(-1).astype("float64") if parts else np.zeros(0)
