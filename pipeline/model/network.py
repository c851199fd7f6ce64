"""Networks and optimizers from config: changing the network is a config change."""

from __future__ import annotations

from typing import Any

import keras

from pipeline.core.config import ModelConfig, OptimizerConfig

KERAS_INITIALIZER_CLASS = {
    "glorot_uniform": "GlorotUniform",
    "glorot_normal": "GlorotNormal",
    "he_uniform": "HeUniform",
    "he_normal": "HeNormal",
    "lecun_uniform": "LecunUniform",
    "lecun_normal": "LecunNormal",
    "random_normal": "RandomNormal",
    "random_uniform": "RandomUniform",
    "truncated_normal": "TruncatedNormal",
    "variance_scaling": "VarianceScaling",
    "orthogonal": "Orthogonal",
    "zeros": "Zeros",
    "ones": "Ones",
    "constant": "Constant",
    "identity": "Identity",
}


def make_initializer(name: str, args: dict[str, Any] | None = None) -> keras.initializers.Initializer:
    """A Keras built-in initializer by name, with its arguments (e.g. stddev, seed, value)."""
    cls = getattr(keras.initializers, KERAS_INITIALIZER_CLASS[name])
    return cls(**(args or {}))


def _regularizer(model: ModelConfig, layer: int) -> keras.regularizers.Regularizer | None:
    l1, l2 = model.penalty("l1", layer), model.penalty("l2", layer)
    return keras.regularizers.L1L2(l1=l1, l2=l2) if (l1 or l2) else None


def build_model(
    n_inputs: int, model: ModelConfig, outputs: int = 1, task: str = "regression"
) -> keras.Sequential:
    """Dense hidden layers as configured, then a linear Dense(`outputs`) output: the
    prediction for regression, logits for classification (pipeline.model.losses)."""
    layers: list[keras.layers.Layer] = [keras.Input(shape=(n_inputs,), name="features")]
    for index, units in enumerate(model.hidden_units):
        layers.append(
            keras.layers.Dense(
                units,
                activation=model.activation,
                kernel_initializer=make_initializer(model.initializer, model.initializer_args),
                bias_initializer=make_initializer(model.bias_initializer),
                kernel_regularizer=_regularizer(model, index),
                name=f"hidden_{index + 1}",
            )
        )
    layers.append(
        keras.layers.Dense(
            outputs,
            activation="linear",
            kernel_initializer=make_initializer(model.initializer, model.initializer_args),
            bias_initializer=make_initializer(model.bias_initializer),
            kernel_regularizer=_regularizer(model, len(model.hidden_units)),
            name="output",
        )
    )
    return keras.Sequential(layers, name="regressor" if task == "regression" else "classifier")


def make_schedule(opt: OptimizerConfig) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """The learning rate, or a schedule of it per optimizer step.

    `inverse_time` with decay_steps=1 is the old Keras `decay` argument: lr / (1 + decay * t).
    """
    s = opt.schedule
    if s.name == "inverse_time":
        return keras.optimizers.schedules.InverseTimeDecay(opt.learning_rate, s.decay_steps, s.decay_rate)
    if s.name == "exponential":
        return keras.optimizers.schedules.ExponentialDecay(opt.learning_rate, s.decay_steps, s.decay_rate)
    if s.name == "cosine":
        return keras.optimizers.schedules.CosineDecay(opt.learning_rate, s.decay_steps, alpha=s.alpha)
    return opt.learning_rate


def make_optimizer(opt: OptimizerConfig) -> keras.optimizers.Optimizer:
    lr = make_schedule(opt)
    extra: dict[str, Any] = {"clipnorm": opt.clipnorm} if opt.clipnorm else {}
    if opt.name in ("sgd", "momentum"):
        return keras.optimizers.SGD(lr, momentum=opt.momentum, nesterov=opt.nesterov, **extra)
    if opt.name == "rmsprop":
        return keras.optimizers.RMSprop(lr, momentum=opt.momentum, **extra)
    classes = {"adam": "Adam", "adamw": "AdamW", "nadam": "Nadam", "adagrad": "Adagrad"}
    return getattr(keras.optimizers, classes[opt.name])(lr, **extra)


def current_learning_rate(optimizer: keras.optimizers.Optimizer) -> float:
    """The learning rate in effect at the optimizer's current step."""
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))
