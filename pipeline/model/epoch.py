"""The fused epoch: one compiled TensorFlow call runs an epoch's optimizer steps and its
validation pass. Compiled functions are kept per network structure (`compiled`).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import keras
import tensorflow as tf

from pipeline.model.diagnostics import FLOAT32_MAX, dense_layers, probe
from pipeline.model.losses import batch_terms, metric_names


def kernel_positions(model: keras.Model) -> list[int]:
    """Where the Dense layers' kernels are among the model's trainable variables."""
    kernel_ids = {id(layer.kernel) for layer in dense_layers(model)}
    return [i for i, v in enumerate(model.trainable_variables) if id(v) in kernel_ids]


def penalty_of(model: keras.Model) -> Any:
    """The model's penalties (its layers' regularization losses) as one tensor, 0 without."""

    def penalty() -> tf.Tensor:
        losses = model.losses
        return tf.add_n(losses) if losses else tf.constant(0.0)

    return penalty


def epoch_function(
    model: keras.Model,
    optimizer: keras.optimizers.Optimizer,
    batch_size: int,
    diagnostics: bool,
    task: str = "regression",
) -> Any:
    """The compiled epoch for `task` (pipeline.model.losses): its values are the epoch's
    `train_loss`, `val_loss` (data loss plus penalties), `train_<m>`, `val_<m>` for each of the
    task's `metric_names`, and what the loop needs (steps done, the first bad batch, gradient
    norms, the diagnostics)."""
    data_name = metric_names(task)[0]
    classify = task != "regression"
    variables = model.trainable_variables
    kernel_index = kernel_positions(model)
    width = len(kernel_index)
    penalty = penalty_of(model)
    measure = probe(model, task) if diagnostics else None

    @tf.function(reduce_retracing=True)
    def run_epoch(
        x: tf.Tensor, y: tf.Tensor, xv: tf.Tensor, yv: tf.Tensor, xs: tf.Tensor, seed: tf.Tensor
    ) -> Any:
        n = tf.shape(x)[0]
        order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=seed)
        steps = (n + batch_size - 1) // batch_size
        loss_sum = tf.constant(0.0)
        mse_sum = tf.constant(0.0)
        correct_sum = tf.constant(0.0)
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
                mse, correct = batch_terms(task, model(xb, training=True), yb)
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
            correct_sum += correct
            seen += count
            done += 1.0
        val_mse, val_correct = batch_terms(task, model(xv, training=False), yv)
        seen = tf.maximum(seen, 1.0)
        probed = measure(xs) if measure is not None else {}
        accuracy = (
            {
                "train_accuracy": correct_sum / seen,
                "val_accuracy": val_correct / tf.cast(tf.shape(yv)[0], tf.float32),
            }
            if classify
            else {}
        )
        return (
            probed
            | accuracy
            | {
                "train_loss": loss_sum / seen,
                f"train_{data_name}": mse_sum / seen,
                "val_loss": val_mse + penalty(),
                f"val_{data_name}": val_mse,
                "bad_batch": bad_batch,
                "bad_loss": bad_loss,
                "steps_done": done,
                "grad_norm": tf.sqrt(tf.minimum(norm_sum / tf.maximum(done, 1.0), FLOAT32_MAX)),  # RMS
                "grad_norm_max": tf.sqrt(norm_max),
            }
        )

    return run_epoch


START_CHUNK = 65536  # rows per forward pass when the training loss is measured at the start


def start_function(model: keras.Model, diagnostics: bool, task: str = "regression") -> Any:
    """The compiled measurement of the network as initialized, before any update: the same
    values as an epoch's (`train_loss` and `val_loss` with the penalties, `train_<m>`,
    `val_<m>`, the diagnostics), the training loss over every training row, and as
    `grad_norm` each kernel's gradient norm on the probe rows (`xs`, `ys`)."""
    data_name = metric_names(task)[0]
    classify = task != "regression"
    variables = model.trainable_variables
    kernel_index = kernel_positions(model)
    penalty = penalty_of(model)
    measure = probe(model, task) if diagnostics else None

    @tf.function(reduce_retracing=True)
    def at_start(
        x: tf.Tensor, y: tf.Tensor, xv: tf.Tensor, yv: tf.Tensor, xs: tf.Tensor, ys: tf.Tensor
    ) -> Any:
        n = tf.shape(x)[0]
        loss_sum = tf.constant(0.0)
        correct_sum = tf.constant(0.0)
        for step in tf.range((n + START_CHUNK - 1) // START_CHUNK):
            rows = tf.range(step * START_CHUNK, tf.minimum((step + 1) * START_CHUNK, n))
            part, correct = batch_terms(task, model(tf.gather(x, rows), training=False), tf.gather(y, rows))
            loss_sum += part * tf.cast(tf.shape(rows)[0], tf.float32)
            correct_sum += correct
        seen = tf.maximum(tf.cast(n, tf.float32), 1.0)
        val_loss, val_correct = batch_terms(task, model(xv, training=False), yv)
        with tf.GradientTape() as tape:
            sample_loss, _ = batch_terms(task, model(xs, training=True), ys)
            sample_loss += penalty()
        grads = tape.gradient(sample_loss, variables)
        norms = tf.stack([tf.norm(grads[i]) for i in kernel_index])
        accuracy = (
            {
                "train_accuracy": correct_sum / seen,
                "val_accuracy": val_correct / tf.cast(tf.shape(yv)[0], tf.float32),
            }
            if classify
            else {}
        )
        return (
            (measure(xs) if measure is not None else {})
            | accuracy
            | {
                "train_loss": loss_sum / seen + penalty(),
                f"train_{data_name}": loss_sum / seen,
                "val_loss": val_loss + penalty(),
                f"val_{data_name}": val_loss,
                "grad_norm": tf.minimum(norms, FLOAT32_MAX),
            }
        )

    return at_start


CACHE_SIZE = 8  # compiled epoch functions kept per process (a sweep's distinct structures)
_compiled: OrderedDict[str, tuple[keras.Model, keras.optimizers.Optimizer, Any, Any, threading.Lock]] = (
    OrderedDict()
)
_compiled_lock = threading.Lock()


def structure_key(
    model: keras.Model,
    optimizer: keras.optimizers.Optimizer,
    batch_size: int,
    diagnostics: bool,
    task: str = "regression",
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
        [type(optimizer).__name__, layers, settings, batch_size, diagnostics, task],
        sort_keys=True,
        default=str,
    )


@contextmanager
def compiled(
    model: keras.Model,
    optimizer: keras.optimizers.Optimizer,
    batch_size: int,
    diagnostics: bool,
    task: str = "regression",
) -> Iterator[tuple[keras.Model, keras.optimizers.Optimizer, Any, Any]]:
    """A network, optimizer, compiled epoch function and start measurement
    (`start_function`) to train `model` with `optimizer`.

    A sweep repeats the same structure with other initializers or learning rates, so the
    function is kept (the CACHE_SIZE most recent structures) with a private copy of the
    network and optimizer it was traced on; a later fit of the same structure copies its
    starting weights and fresh optimizer state (learning rate included) into that copy and
    reuses the function: the same graph from the same starting point, so the same numbers.
    The caller copies the trained weights back. A copy in use by another thread is not
    shared: that fit compiles its own.
    """
    key = structure_key(model, optimizer, batch_size, diagnostics, task)
    with _compiled_lock:
        entry = _compiled.get(key)
        if entry is not None:
            _compiled.move_to_end(key)
    if entry is None:
        net = keras.models.clone_model(model)
        net.set_weights(model.get_weights())
        opt = type(optimizer).from_config(optimizer.get_config())
        opt.build(net.trainable_variables)
        run_epoch = epoch_function(net, opt, batch_size, diagnostics, task)
        entry = (net, opt, run_epoch, start_function(net, diagnostics, task), threading.Lock())
        with _compiled_lock:
            _compiled[key] = entry
            while len(_compiled) > CACHE_SIZE:
                _compiled.popitem(last=False)
    net, opt, run_epoch, at_start, lock = entry
    if not lock.acquire(blocking=False):  # another thread trains on this copy right now
        run_epoch = epoch_function(model, optimizer, batch_size, diagnostics, task)
        yield model, optimizer, run_epoch, start_function(model, diagnostics, task)
        return
    try:
        net.set_weights(model.get_weights())
        for mine, fresh in zip(opt.variables, optimizer.variables, strict=True):
            mine.assign(fresh)
        yield net, opt, run_epoch, at_start
    finally:
        lock.release()
