"""Networks, initializers, penalties, optimizers and learning-rate schedules from config."""

from __future__ import annotations

from typing import Any, get_args

import keras
import numpy as np
import pytest

from pipeline.core.config import (
    Initializer,
    ModelConfig,
    OptimizerConfig,
    OptimizerName,
    ScheduleConfig,
)
from pipeline.model.network import build_model, current_learning_rate, make_optimizer, make_schedule

INITIALIZER_ARGS: dict[str, dict[str, Any]] = {
    "random_normal": {"seed": 1, "stddev": 0.05},
    "constant": {"value": 0.5},
}


def dense_layers(model: keras.Model) -> list[keras.layers.Dense]:
    layers = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert len(layers) == len(model.layers)  # nothing but Dense layers
    return layers


def kernels(model: keras.Model) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(layer.kernel) for layer in dense_layers(model)]


@pytest.mark.parametrize(("units", "activation"), [([8], "relu"), ([16, 8, 4], "tanh"), ([3, 5], "selu")])
def test_layers_follow_the_config(units: list[int], activation: str) -> None:
    model = build_model(7, ModelConfig(hidden_units=units, activation=activation))
    layers = dense_layers(model)
    assert [layer.units for layer in layers] == [*units, 1]
    assert [layer.activation.__name__ for layer in layers] == [activation] * len(units) + ["linear"]
    assert [layer.name for layer in layers][-1] == "output"
    assert model.input_shape == (None, 7)
    assert model.output_shape == (None, 1)
    assert [k.shape for k in kernels(model)] == list(zip([7, *units], [*units, 1], strict=True))


def test_no_hidden_layers_is_linear_regression() -> None:
    model = build_model(4, ModelConfig(hidden_units=[]))
    (layer,) = dense_layers(model)
    assert layer.units == 1
    assert layer.activation.__name__ == "linear"
    assert model.count_params() == 5
    x = np.array([[1.0, 2.0, 3.0, 4.0]], dtype="float32")
    weights = keras.ops.convert_to_numpy(layer.kernel)
    expected = x @ weights + keras.ops.convert_to_numpy(layer.bias)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-6)


@pytest.mark.parametrize("name", get_args(Initializer))
def test_every_initializer_builds(name: str) -> None:
    config = ModelConfig(hidden_units=[4], initializer=name, initializer_args=INITIALIZER_ARGS.get(name, {}))
    model = build_model(3, config)
    for kernel in kernels(model):
        assert np.isfinite(kernel).all()


def test_zeros_initializer_gives_zero_kernels() -> None:
    model = build_model(3, ModelConfig(hidden_units=[4, 2], initializer="zeros"))
    for kernel in kernels(model):
        assert not kernel.any()


def test_constant_initializer_uses_its_value() -> None:
    config = ModelConfig(hidden_units=[4], initializer="constant", initializer_args={"value": 0.5})
    for kernel in kernels(build_model(3, config)):
        assert (kernel == 0.5).all()


def test_seeded_random_normal_is_reproducible_and_uses_stddev() -> None:
    config = ModelConfig(
        hidden_units=[64], initializer="random_normal", initializer_args={"seed": 1, "stddev": 0.05}
    )
    first, again = kernels(build_model(32, config)), kernels(build_model(32, config))
    np.testing.assert_array_equal(first[0], again[0])
    assert first[0].std() == pytest.approx(0.05, rel=0.1)


def test_bias_initializer_is_applied() -> None:
    model = build_model(3, ModelConfig(hidden_units=[4], bias_initializer="ones"))
    for layer in dense_layers(model):
        assert (keras.ops.convert_to_numpy(layer.bias) == 1.0).all()


def test_no_penalty_means_no_regularizer() -> None:
    model = build_model(3, ModelConfig(hidden_units=[4]))
    assert all(layer.kernel_regularizer is None for layer in dense_layers(model))
    assert not model.losses


@pytest.mark.parametrize("key", ["l1", "l2"])
def test_penalty_attaches_a_regularizer(key: str) -> None:
    model = build_model(3, ModelConfig(hidden_units=[4], **{key: 0.01}))
    layers = dense_layers(model)
    assert all(layer.kernel_regularizer is not None for layer in layers)
    assert len(model.losses) == len(layers)
    assert all(float(keras.ops.convert_to_numpy(loss)) > 0 for loss in model.losses)
    config = layers[0].kernel_regularizer.get_config()
    assert config[key] == pytest.approx(0.01)


def test_l2_penalty_equals_the_sum_of_squared_weights() -> None:
    config = ModelConfig(hidden_units=[], initializer="constant", initializer_args={"value": 0.5}, l2=0.1)
    model = build_model(4, config)
    (loss,) = model.losses
    assert float(keras.ops.convert_to_numpy(loss)) == pytest.approx(0.1 * 4 * 0.25)


def test_penalty_per_layer() -> None:
    model = build_model(3, ModelConfig(hidden_units=[4, 2], l2=[0.0, 0.1, 0.2]))
    hidden_1, hidden_2, output = dense_layers(model)
    assert hidden_1.kernel_regularizer is None
    assert hidden_2.kernel_regularizer.get_config()["l2"] == pytest.approx(0.1)
    assert output.kernel_regularizer.get_config()["l2"] == pytest.approx(0.2)
    assert len(model.losses) == 2


EXPECTED_OPTIMIZER = {
    "sgd": keras.optimizers.SGD,
    "momentum": keras.optimizers.SGD,
    "rmsprop": keras.optimizers.RMSprop,
    "adam": keras.optimizers.Adam,
    "adamw": keras.optimizers.AdamW,
    "nadam": keras.optimizers.Nadam,
    "adagrad": keras.optimizers.Adagrad,
}


@pytest.mark.parametrize("name", get_args(OptimizerName))
def test_make_optimizer_for_each_name(name: str) -> None:
    momentum = 0.9 if name in ("momentum", "rmsprop") else 0.0
    optimizer = make_optimizer(
        OptimizerConfig(name=name, learning_rate=0.005, momentum=momentum, clipnorm=1.0)
    )
    assert type(optimizer) is EXPECTED_OPTIMIZER[name]
    assert current_learning_rate(optimizer) == pytest.approx(0.005)
    assert optimizer.clipnorm == pytest.approx(1.0)
    if momentum:
        assert optimizer.momentum == pytest.approx(0.9)


def test_nesterov_momentum() -> None:
    config = OptimizerConfig(name="momentum", learning_rate=0.01, momentum=0.9, nesterov=True)
    optimizer = make_optimizer(config)
    assert optimizer.nesterov is True
    assert optimizer.momentum == pytest.approx(0.9)


def test_no_schedule_is_a_constant_learning_rate() -> None:
    assert make_schedule(OptimizerConfig(name="sgd", learning_rate=0.03)) == 0.03


STEPS = [0, 1, 10, 100, 1000, 10_000, 100_000]


def inverse_time(lr: float, decay: float) -> OptimizerConfig:
    schedule = ScheduleConfig(name="inverse_time", decay_rate=decay, decay_steps=1)
    return OptimizerConfig(name="sgd", learning_rate=lr, schedule=schedule)


@pytest.mark.parametrize("step", STEPS)
def test_inverse_time_is_the_old_keras_decay(step: int) -> None:
    schedule = make_schedule(inverse_time(0.03, 1e-4))
    got = float(keras.ops.convert_to_numpy(schedule(step)))
    assert got == pytest.approx(0.03 / (1 + 1e-4 * step), rel=1e-5)


def test_optimizer_learning_rate_follows_the_schedule_with_its_steps() -> None:
    optimizer = make_optimizer(inverse_time(0.03, 1e-4))
    for step in STEPS:
        optimizer.iterations.assign(step)
        assert current_learning_rate(optimizer) == pytest.approx(0.03 / (1 + 1e-4 * step), rel=1e-5)


def test_exponential_schedule() -> None:
    schedule = make_schedule(
        OptimizerConfig(
            name="adam",
            learning_rate=0.1,
            schedule=ScheduleConfig(name="exponential", decay_rate=0.5, decay_steps=10),
        )
    )
    for step in (0, 10, 20, 35):
        got = float(keras.ops.convert_to_numpy(schedule(step)))
        assert got == pytest.approx(0.1 * 0.5 ** (step / 10), rel=1e-5)


def test_cosine_schedule_ends_at_alpha() -> None:
    schedule = make_schedule(
        OptimizerConfig(
            name="adam",
            learning_rate=0.1,
            schedule=ScheduleConfig(name="cosine", decay_steps=100, alpha=0.1),
        )
    )
    value = lambda step: float(keras.ops.convert_to_numpy(schedule(step)))  # noqa: E731
    assert value(0) == pytest.approx(0.1, rel=1e-5)
    assert value(50) == pytest.approx(0.1 * (0.1 + 0.9 * 0.5), rel=1e-5)
    assert value(100) == pytest.approx(0.01, rel=1e-5)
    assert value(500) == pytest.approx(0.01, rel=1e-5)
