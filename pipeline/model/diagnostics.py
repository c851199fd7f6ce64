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
