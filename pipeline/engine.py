"""A fused training loop: one compiled TensorFlow call per epoch.

`model.fit` spends tens of milliseconds per epoch on framework overhead (data adapters,
callbacks, a fresh evaluation pass), which dominates small networks. Here each epoch,
all its optimizer steps and the validation pass, runs as a single `tf.function` call.
The semantics match `fit`: the same optimizer steps (ceil(n / batch_size) per epoch,
rows reshuffled each epoch), loss = MSE + the layers' penalties, `mse` the plain MSE,
both averaged over the epoch's samples, validation after every epoch.
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
    max_grad_norm: float = 0.0  # the largest finite per-step kernel gradient norm seen
    max_grad_layer: str | None = None  # ... and the layer it was in


FLOAT32_MAX = float(np.finfo(np.float32).max)  # gradient norms past its root (1.8e19) are
# recorded as 1.8e19, "at least this large"
SATURATION = 0.99  # |tanh| or distance of sigmoid from 0/1 beyond which a unit is saturated
SATURATED_SHARE = 0.9  # a unit is saturated when it is so for this share of the rows


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

    `tf.convert_to_tensor` copies, and briefly holds two copies (measured: +2x the array).
    An unaligned buffer must never reach DLPack: TensorFlow aborts on it in some kernels.
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
    """TensorFlow's graph optimizer (grappler) on or off for this process's functions.
    Off, a new network's epoch function runs its first call ~0.3 s sooner (grappler
    rewrites the whole loop first) and trains no slower, with the same numbers, for these
    small networks (docs/benchmarks.md)."""
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": not enabled})


def dense_layers(model: keras.Model) -> list[keras.layers.Dense]:
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def _epoch_function(
    model: keras.Model, optimizer: keras.optimizers.Optimizer, batch_size: int, diagnostics: bool
) -> Any:
    variables = model.trainable_variables
    kernel_ids = {id(layer.kernel) for layer in dense_layers(model)}
    kernel_index = [i for i, v in enumerate(variables) if id(v) in kernel_ids]
    width = len(kernel_index)

    def penalty() -> tf.Tensor:
        losses = model.losses
        return tf.add_n(losses) if losses else tf.constant(0.0)

    probe = _probe(model) if diagnostics else None

    @tf.function(reduce_retracing=True)
    def run_epoch(
        x: tf.Tensor, y: tf.Tensor, xv: tf.Tensor, yv: tf.Tensor, xs: tf.Tensor, seed: tf.Tensor
    ) -> Any:
        n = tf.shape(x)[0]
        order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=seed)
        steps = (n + batch_size - 1) // batch_size
        loss_sum = tf.constant(0.0)
        mse_sum = tf.constant(0.0)
        seen = tf.constant(0.0)
        done = tf.constant(0.0)
        bad_batch = tf.constant(0)
        bad_loss = tf.constant(0.0)
        norm_sum = tf.zeros([width])
        norm_max = tf.zeros([width])
        for step in tf.range(steps):
            rows = order[step * batch_size : tf.minimum((step + 1) * batch_size, n)]
            xb, yb = tf.gather(x, rows), tf.gather(y, rows)
            with tf.GradientTape() as tape:
                pred = tf.reshape(model(xb, training=True), [-1])
                mse = tf.reduce_mean(tf.square(pred - yb))
                loss = mse + penalty()
            if not tf.math.is_finite(loss):
                bad_batch = step + 1
                bad_loss = loss
                break  # no update from a non-finite loss: the weights stay as they were
            grads = tape.gradient(loss, variables)
            if diagnostics:  # squared norms: fewer ops per step; square roots once per epoch
                squares = tf.stack([tf.reduce_sum(tf.square(grads[i])) for i in kernel_index])
                # an exploding gradient's square overflows float32: keep it as the largest float
                squares = tf.where(tf.math.is_nan(squares), squares, tf.minimum(squares, FLOAT32_MAX))
                norm_sum += squares
                norm_max = tf.maximum(norm_max, squares)
            optimizer.apply(grads, variables)
            count = tf.cast(tf.shape(rows)[0], tf.float32)
            loss_sum += loss * count
            mse_sum += mse * count
            seen += count
            done += 1.0
        val_pred = tf.reshape(model(xv, training=False), [-1])
        val_mse = tf.reduce_mean(tf.square(val_pred - yv))
        seen = tf.maximum(seen, 1.0)
        probed = probe(xs) if probe is not None else {}
        return probed | {
            "train_loss": loss_sum / seen,
            "train_mse": mse_sum / seen,
            "val_loss": val_mse + penalty(),
            "val_mse": val_mse,
            "bad_batch": bad_batch,
            "bad_loss": bad_loss,
            "steps_done": done,
            "grad_norm": tf.sqrt(tf.minimum(norm_sum / tf.maximum(done, 1.0), FLOAT32_MAX)),  # RMS
            "grad_norm_max": tf.sqrt(norm_max),
        }

    return run_epoch


def _probe(model: keras.Model) -> Any:
    """Per Dense layer: kernel norm; per hidden layer: activation mean, std, dead, saturated.
    Traced inside the epoch function: no extra call per epoch."""
    layers = dense_layers(model)

    def probe(xs: tf.Tensor) -> dict[str, tf.Tensor]:
        out: dict[str, tf.Tensor] = {}
        h = xs
        for layer in layers:
            h = layer(h, training=False)
            out[f"diag/{layer.name}/weight_norm"] = tf.norm(layer.kernel)
            if layer is layers[-1]:
                break
            out[f"diag/{layer.name}/act_mean"] = tf.reduce_mean(h)
            out[f"diag/{layer.name}/act_std"] = tf.math.reduce_std(h)
            activation = keras.activations.serialize(layer.activation)
            if activation == "relu":  # dead: outputs 0 for every row
                dead = tf.reduce_max(h, axis=0) <= 0.0
                out[f"diag/{layer.name}/dead_fraction"] = tf.reduce_mean(tf.cast(dead, tf.float32))
            elif activation in ("tanh", "sigmoid"):
                near = tf.abs(h) > SATURATION if activation == "tanh" else tf.abs(h - 0.5) > SATURATION - 0.5
                share = tf.reduce_mean(tf.cast(near, tf.float32), axis=0)
                saturated = tf.cast(share >= SATURATED_SHARE, tf.float32)
                out[f"diag/{layer.name}/saturated_fraction"] = tf.reduce_mean(saturated)
        return out

    return probe


CACHE_SIZE = 8  # compiled epoch functions kept per process (a sweep's distinct structures)
_compiled: OrderedDict[str, tuple[keras.Model, keras.optimizers.Optimizer, Any, threading.Lock]] = (
    OrderedDict()
)
_compiled_lock = threading.Lock()


def structure_key(
    model: keras.Model, optimizer: keras.optimizers.Optimizer, batch_size: int, diagnostics: bool
) -> str:
    """What the compiled epoch function depends on: the network without its initializers
    (they only choose the starting weights, which are copied in), the optimizer without a
    constant learning rate (a variable, assigned), the batch size and the diagnostics."""
    layers = []
    for layer in model.get_config()["layers"]:
        config = {k: v for k, v in layer["config"].items() if not k.endswith("initializer")}
        if layer.get("class_name") == "InputLayer":
            config.pop("name", None)  # an input's name is no part of the graph
        layers.append({**layer, "config": config})
    settings = optimizer.get_config()
    settings.pop("name", None)  # numbered per process (adam, adam_1, ...): no part of the graph
    if isinstance(settings.get("learning_rate"), float):
        settings.pop("learning_rate")
    return json.dumps(
        [type(optimizer).__name__, layers, settings, batch_size, diagnostics], sort_keys=True, default=str
    )


@contextmanager
def compiled(
    model: keras.Model, optimizer: keras.optimizers.Optimizer, batch_size: int, diagnostics: bool
) -> Iterator[tuple[keras.Model, keras.optimizers.Optimizer, Any]]:
    """A network, optimizer and compiled epoch function to train `model` with `optimizer`.

    Tracing the epoch function takes ~0.2 s, as long as 100 epochs of the lab network, and
    a sweep repeats the same structure with other initializers or learning rates. So the
    function is kept with a private copy of the network and optimizer it was traced on;
    a later fit of the same structure copies its starting weights and fresh optimizer
    state (learning rate included) into that copy and reuses the function: the same graph
    from the same starting point, so the same numbers (tests/unit/test_engine_cache.py).
    The caller copies the trained weights back. A copy in use by another thread is not
    shared: that fit compiles its own.
    """
    key = structure_key(model, optimizer, batch_size, diagnostics)
    with _compiled_lock:
        entry = _compiled.get(key)
        if entry is not None:
            _compiled.move_to_end(key)
    if entry is None:
        net = keras.models.clone_model(model)
        net.set_weights(model.get_weights())
        opt = type(optimizer).from_config(optimizer.get_config())
        opt.build(net.trainable_variables)
        run_epoch = _epoch_function(net, opt, batch_size, diagnostics)
        entry = (net, opt, run_epoch, threading.Lock())
        with _compiled_lock:
            _compiled[key] = entry
            while len(_compiled) > CACHE_SIZE:
                _compiled.popitem(last=False)
    net, opt, run_epoch, lock = entry
    if not lock.acquire(blocking=False):  # another thread trains on this copy right now
        run_epoch = _epoch_function(model, optimizer, batch_size, diagnostics)
        yield model, optimizer, run_epoch
        return
    try:
        net.set_weights(model.get_weights())
        for mine, fresh in zip(opt.variables, optimizer.variables, strict=True):
            mine.assign(fresh)
        yield net, opt, run_epoch
    finally:
        lock.release()


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
) -> Outcome:
    """Train for up to `epochs`; stop at the first non-finite batch loss or by early stopping.

    With `diagnostics`, each history row also has `diag/<layer>/...` values: the kernel's
    gradient norm over the epoch's optimizer steps, as a root mean square (`grad_norm`) and
    its largest step value (`grad_norm_max`), the kernel norm, and, on a fixed sample of up to `probe_rows`
    training rows, each hidden layer's activation mean and std and its fraction of dead
    (ReLU) or saturated (tanh, sigmoid) units.
    """
    tf.get_logger().setLevel("ERROR")  # a new network per fit retraces by design; no warning
    optimizer.build(model.trainable_variables)
    with compiled(model, optimizer, batch_size, diagnostics) as (net, opt, run_epoch):
        outcome = _train(
            net,
            opt,
            run_epoch,
            (train_data, validation_data),
            (epochs, seed, diagnostics, probe_rows),
            early_stopping,
            on_epoch,
        )
        if net is not model:
            model.set_weights(net.get_weights())
    return outcome


def _train(
    model: keras.Model,
    optimizer: keras.optimizers.Optimizer,
    run_epoch: Any,
    data: tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    settings: tuple[int, int, bool, int],  # epochs, seed, diagnostics, probe rows
    early_stopping: EarlyStopping | None,
    on_epoch: Callable[[dict[str, float]], None] | None,
) -> Outcome:
    (train_data, validation_data), (epochs, seed, diagnostics, probe_rows) = data, settings
    names = [layer.name for layer in dense_layers(model)]
    x, y = (as_tensor(a) for a in train_data)
    xv, yv = (as_tensor(a) for a in validation_data)
    sample = x[: min(probe_rows, int(x.shape[0]))]
    outcome = Outcome()
    for epoch in range(1, epochs + 1):
        epoch_seed = tf.constant([seed, epoch], tf.int64)
        values = {k: v.numpy() for k, v in run_epoch(x, y, xv, yv, sample, epoch_seed).items()}
        row: dict[str, float] = {"epoch": epoch}
        keys = (
            ("train_loss", "train_mse", "val_loss", "val_mse")
            if values["steps_done"]
            else ("val_loss", "val_mse")
        )
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
    """The model's outputs for `x` as float64, in chunks (no Keras predict-loop overhead)."""
    parts = [
        np.asarray(model(tf.convert_to_tensor(x[start : start + chunk], tf.float32), training=False))
        for start in range(0, len(x), chunk)
    ]
    return np.concatenate(parts).reshape(-1).astype("float64") if parts else np.zeros(0)
