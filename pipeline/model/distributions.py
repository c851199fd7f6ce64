"""Distributions inside the network, layer by layer, at a moment of training: each Dense
layer's pre-activations, activations, kernel gradient and kernel weights on a fixed sample of
training rows. What Glorot and Bengio (2010) and He et al. (2015) look at: whether the
spread shrinks to nothing or blows up with depth, and whether gradients vanish."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from pipeline.model.diagnostics import dense_layers
from pipeline.model.losses import batch_terms

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
QUANTITIES = ("preactivation", "activation", "kernel_gradient", "kernel")


def layer_values(
    model: keras.Model, x: np.ndarray, y: np.ndarray, task: str = "regression"
) -> dict[str, dict[str, np.ndarray]]:
    """layer name -> quantity (QUANTITIES) -> its values on the rows `x` (targets `y`): the
    pre-activations and activations as rows x units, the kernel's gradient of the data loss
    plus penalties, and the kernel."""
    layers = dense_layers(model)
    xs, ys = tf.convert_to_tensor(x, tf.float32), tf.convert_to_tensor(y, tf.float32)
    found: dict[str, dict[str, np.ndarray]] = {}
    with tf.GradientTape() as tape:
        h = xs
        for layer in layers:
            z = tf.matmul(h, layer.kernel) + (layer.bias if layer.use_bias else 0.0)
            h = layer.activation(z)
            found[layer.name] = {"preactivation": z.numpy(), "activation": h.numpy()}
        loss, _ = batch_terms(task, h, ys)
        if model.losses:
            loss += tf.add_n(model.losses)
    grads = tape.gradient(loss, [layer.kernel for layer in layers])
    for layer, grad in zip(layers, grads, strict=True):
        found[layer.name]["kernel_gradient"] = np.zeros(layer.kernel.shape) if grad is None else grad.numpy()
        found[layer.name]["kernel"] = np.asarray(layer.kernel.numpy())
    return found


def summary(values: np.ndarray) -> dict[str, Any]:
    """Mean, standard deviation, QUANTILES and, for rows x units, how far the units differ
    (`across_units_std`: the mean over rows of the standard deviation across units; 0 when
    every unit computes the same), of the finite values, in float64 (a diverging network's
    float32 values would overflow when squared); `non_finite` counts the others."""
    every = np.asarray(values, dtype="float64")
    flat = every.reshape(-1)
    finite = flat[np.isfinite(flat)]
    out: dict[str, Any] = {"non_finite": int(flat.size - finite.size)}
    if not finite.size:
        return out
    points = np.quantile(finite, QUANTILES)
    out |= {
        "mean": float(finite.mean()),
        "std": float(finite.std()),
        "quantiles": {f"{q:g}": float(v) for q, v in zip(QUANTILES, points, strict=True)},
    }
    if every.ndim == 2 and every.shape[1] > 1 and finite.size == flat.size:
        out["across_units_std"] = float(every.std(axis=1).mean())
    return out


def summaries(values: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, Any]]:
    """layer -> quantity -> `summary` of its values: the compact record of one moment."""
    return {layer: {q: summary(v) for q, v in quantities.items()} for layer, quantities in values.items()}
