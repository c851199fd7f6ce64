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

from pipeline.model.diagnostics import dense_layers
from pipeline.model.epoch import compiled
from pipeline.model.losses import metric_names
from pipeline.model.network import current_learning_rate


@dataclass
class EarlyStopping:
    """Keras' EarlyStopping rule: stop after `patience` epochs without improvement (a fall,
    or for an accuracy a rise, of more than `min_delta`)."""

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
        if self.monitor.endswith("accuracy"):
            current = -current  # higher is better: compared as its negative
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
    max_grad_norm: float = 0.0  # the largest finite per-step kernel gradient norm seen
    max_grad_layer: str | None = None  # ... and the layer it was in


TF_ALIGNMENT = 64  # bytes: TensorFlow's CPU kernels use a buffer in place only when so aligned


def shareable(values: np.ndarray) -> bool:
    """Whether TensorFlow can use the array's own memory: float32, C-contiguous, writable
    (DLPack exports no read-only arrays), non-empty and 64-byte aligned."""
    return (
        values.dtype == np.float32
        and values.flags.c_contiguous
        and values.flags.writeable
        and values.size > 0
        and values.ctypes.data % TF_ALIGNMENT == 0
    )


def as_tensor(values: Any) -> tf.Tensor:
    """A float32 tensor of `values`: over the array's own memory when `shareable` (through
    DLPack, no copy: the array must not change while the tensor is in use), else a copy.

    An unaligned buffer never reaches DLPack: TensorFlow aborts on it in some kernels.
    """
    if isinstance(values, np.ndarray) and shareable(values):
        return tf.experimental.dlpack.from_dlpack(values.__dlpack__())
    return tf.convert_to_tensor(values, dtype=tf.float32)


def use_threads(threads: int) -> None:
    """TensorFlow's threads per op and between ops (0: its default, one per core). Settable
    only before TensorFlow's first operation in this process; later calls leave it as it is
    (a sweep's jobs in one process share the first job's setting)."""
    if threads <= 0:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TensorFlow already started in this process
        return


def use_graph_optimizer(enabled: bool) -> None:
    """TensorFlow's graph optimizer (grappler) on or off for the functions this process
    compiles from now on (`training.graph_optimizer`); the numbers trained are the same."""
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": not enabled})


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
    diagnostics: bool = False,
    probe_rows: int = 4096,
    task: str = "regression",
    on_snapshot: Callable[[int, keras.Model], None] | None = None,
    snapshot_every: int = 0,
) -> Outcome:
    """Train for up to `epochs`; stop at the first non-finite batch loss or by early stopping.
    History rows hold `train_loss`, `val_loss` and the task's `metric_names` (pipeline.model.losses),
    from epoch 0, the network as initialized (measured before any update: the training loss
    over all training rows, the gradient norms on the probe rows), to the last epoch run.

    With `diagnostics`, each history row also has `diag/<layer>/...` values: the kernel's
    gradient norm over the epoch's optimizer steps, as a root mean square (`grad_norm`) and
    its largest step value (`grad_norm_max`), the kernel norm, and, on a fixed sample of up to `probe_rows`
    training rows, each hidden layer's activation mean and std and its fraction of dead
    (ReLU) or saturated (tanh, sigmoid) units. `on_snapshot(epoch, network)` is called with
    the network being trained after epoch 1 and every `snapshot_every` epochs.
    """
    tf.get_logger().setLevel("ERROR")  # a new network per fit retraces by design; no warning
    optimizer.build(model.trainable_variables)
    with compiled(model, optimizer, batch_size, diagnostics, task) as (net, opt, run_epoch, at_start):
        outcome = _train(
            net,
            opt,
            (run_epoch, at_start),
            (train_data, validation_data),
            (epochs, seed, diagnostics, probe_rows, metric_names(task)),
            early_stopping,
            on_epoch,
            (on_snapshot, snapshot_every),
        )
        if net is not model:
            model.set_weights(net.get_weights())
    return outcome


def _train(
    model: keras.Model,
    optimizer: keras.optimizers.Optimizer,
    functions: tuple[Any, Any],  # the compiled epoch and start measurement (pipeline.model.epoch)
    data: tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    settings: tuple[int, int, bool, int, tuple[str, ...]],  # epochs, seed, diagnostics, probe rows, metrics
    early_stopping: EarlyStopping | None,
    on_epoch: Callable[[dict[str, float]], None] | None,
    snapshots: tuple[Callable[[int, keras.Model], None] | None, int] = (None, 0),
) -> Outcome:
    (train_data, validation_data), (epochs, seed, diagnostics, probe_rows, metrics) = data, settings
    val_keys = ("val_loss", *(f"val_{m}" for m in metrics))
    all_keys = ("train_loss", *(f"train_{m}" for m in metrics), *val_keys)
    names = [layer.name for layer in dense_layers(model)]
    x, y = (as_tensor(a) for a in train_data)
    xv, yv = (as_tensor(a) for a in validation_data)
    sample, sample_y = x[: min(probe_rows, int(x.shape[0]))], y[: min(probe_rows, int(x.shape[0]))]
    run_epoch, at_start = functions
    outcome = Outcome()
    start = {k: v.numpy() for k, v in at_start(x, y, xv, yv, sample, sample_y).items()}
    row: dict[str, float] = {"epoch": 0, **{k: float(start[k]) for k in all_keys}}
    row["learning_rate"] = current_learning_rate(optimizer)
    if diagnostics:  # at the start, one gradient (on the probe rows): its norm is also the largest
        for name, norm in zip(names, start["grad_norm"], strict=True):
            row[f"diag/{name}/grad_norm"] = row[f"diag/{name}/grad_norm_max"] = float(norm)
        row |= {k: float(v) for k, v in start.items() if k.startswith("diag/")}
    outcome.history.append(row)
    if on_epoch is not None:
        on_epoch(row)
    for epoch in range(1, epochs + 1):
        epoch_seed = tf.constant([seed, epoch], tf.int64)
        values = {k: v.numpy() for k, v in run_epoch(x, y, xv, yv, sample, epoch_seed).items()}
        row = {"epoch": epoch}
        keys = all_keys if values["steps_done"] else val_keys
        row |= {k: float(values[k]) for k in keys}
        row["learning_rate"] = current_learning_rate(optimizer)
        if diagnostics:
            for name, mean, top in zip(names, values["grad_norm"], values["grad_norm_max"], strict=True):
                row[f"diag/{name}/grad_norm"] = float(mean)
                row[f"diag/{name}/grad_norm_max"] = float(top)
                if math.isfinite(top) and (outcome.max_grad_layer is None or top > outcome.max_grad_norm):
                    outcome.max_grad_norm, outcome.max_grad_layer = float(top), name
            row |= {k: float(v) for k, v in values.items() if k.startswith("diag/")}
        outcome.history.append(row)
        if on_epoch is not None:
            on_epoch(row)
        on_snapshot, every = snapshots
        if on_snapshot is not None and (epoch == 1 or (every and epoch % every == 0)):
            on_snapshot(epoch, model)
        if int(values["bad_batch"]) > 0:
            outcome.diverged_at = (epoch, int(values["bad_batch"]), float(values["bad_loss"]))
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
    """The model's outputs for `x` as float64, in chunks (no Keras predict-loop overhead): a
    vector for a one-unit output, else one row per input row."""
    parts = [
        np.asarray(model(tf.convert_to_tensor(x[start : start + chunk], tf.float32), training=False))
        for start in range(0, len(x), chunk)
    ]
    if not parts:
        return np.zeros(0)
    out = np.concatenate(parts).astype("float64")
    return out.reshape(-1) if out.shape[-1] == 1 else out
