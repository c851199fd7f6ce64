"""What the diagnostics measure inside the compiled epoch function, per Dense layer."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from pipeline.model.losses import output_probabilities

FLOAT32_MAX = float(np.finfo(np.float32).max)  # gradient norms past its root (1.8e19) are
# recorded as 1.8e19, "at least this large"
SATURATION = 0.99  # |tanh| or distance of sigmoid from 0/1 beyond which a unit is saturated
SATURATED_SHARE = 0.9  # a unit is saturated when it is so for this share of the rows


def dense_layers(model: keras.Model) -> list[keras.layers.Dense]:
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def saturated_units(near: tf.Tensor) -> tf.Tensor:
    """The fraction of units (columns) that are near saturation for SATURATED_SHARE of the rows."""
    share = tf.reduce_mean(tf.cast(near, tf.float32), axis=0)
    return tf.reduce_mean(tf.cast(share >= SATURATED_SHARE, tf.float32))


def probe(model: keras.Model, task: str = "regression") -> Any:
    """Per Dense layer: kernel norm; per hidden layer: activation mean, std, dead, saturated.
    A classifier's output counts as saturated like a hidden unit: its sigmoid or softmax
    probability within 1 - SATURATION of 0 or 1. Traced inside the epoch function: no extra
    call per epoch."""
    layers = dense_layers(model)

    def measure(xs: tf.Tensor) -> dict[str, tf.Tensor]:
        out: dict[str, tf.Tensor] = {}
        h = xs
        for layer in layers:
            h = layer(h, training=False)
            out[f"diag/{layer.name}/weight_norm"] = tf.norm(layer.kernel)
            if layer is layers[-1]:
                probability = output_probabilities(task, h)
                if probability is not None:
                    near = tf.abs(probability - 0.5) > SATURATION - 0.5
                    out[f"diag/{layer.name}/saturated_fraction"] = saturated_units(near)
                break
            out[f"diag/{layer.name}/act_mean"] = tf.reduce_mean(h)
            out[f"diag/{layer.name}/act_std"] = tf.math.reduce_std(h)
            activation = keras.activations.serialize(layer.activation)
            if activation == "relu":  # dead: outputs 0 for every row
                dead = tf.reduce_max(h, axis=0) <= 0.0
                out[f"diag/{layer.name}/dead_fraction"] = tf.reduce_mean(tf.cast(dead, tf.float32))
            elif activation in ("tanh", "sigmoid"):
                near = tf.abs(h) > SATURATION if activation == "tanh" else tf.abs(h - 0.5) > SATURATION - 0.5
                out[f"diag/{layer.name}/saturated_fraction"] = saturated_units(near)
        return out

    return measure


NEAR_ZERO = 1e-3  # a kernel weight with |w| below this counts as (nearly) zero: L1's sparsity


def distinct_share(kernel: np.ndarray, bias: np.ndarray) -> float:
    """Distinct units over units: a unit is its incoming weights and bias, compared to 5
    decimals of the layer's largest weight; 1 when every unit differs, 1/units when all are
    identical (what zeros initialization leaves)."""
    units = np.vstack([kernel, bias[None, :]]).T
    scale = float(np.max(np.abs(units))) or 1.0
    return len(np.unique(np.round(units / scale, 5), axis=0)) / units.shape[0]


def weight_summary(model: keras.Model) -> dict[str, float]:
    """The trained weights at a glance, over every Dense kernel: their joint L2 norm
    (`kernel_norm_end`), the share with |w| < NEAR_ZERO (`near_zero_weights_end`), and the
    smallest share of distinct units of any hidden layer (`distinct_units_end`; absent
    without a hidden layer)."""
    layers = dense_layers(model)
    kernels = [np.asarray(layer.kernel, dtype=np.float64) for layer in layers]
    flat = np.concatenate([k.ravel() for k in kernels])
    out = {
        "kernel_norm_end": float(np.sqrt(np.sum(flat**2))),
        "near_zero_weights_end": float(np.mean(np.abs(flat) < NEAR_ZERO)),
    }
    hidden = [
        distinct_share(k, np.asarray(layer.bias, dtype=np.float64))
        for layer, k in zip(layers[:-1], kernels[:-1], strict=True)
        if layer.use_bias
    ]
    if hidden:
        out["distinct_units_end"] = min(hidden)
    return out
