"""Diagnostics tell vanishing gradients, dead and saturated units, and divergence apart."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from pipeline.core.config import ModelConfig
from pipeline.model import engine
from pipeline.model.network import build_model


@pytest.fixture(scope="module")
def regression_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 4)).astype("float32")
    y = (x.sum(axis=1) + rng.normal(size=256) * 0.1).astype("float32")
    return x, y


def first_epoch(
    model: keras.Model, data: tuple[np.ndarray, np.ndarray], lr: float = 0.01
) -> dict[str, float]:
    outcome = engine.train(
        model, keras.optimizers.SGD(lr), data, data, epochs=1, batch_size=32, seed=1, diagnostics=True
    )
    return outcome.history[1]  # [0] is epoch 0, the start


def per_layer(row: dict[str, float], quantity: str) -> list[float]:
    return [v for k, v in row.items() if k.startswith("diag/") and k.endswith(f"/{quantity}")]


def deep(activation: str, initializer: str = "random_normal", **args: float) -> keras.Model:
    keras.utils.set_random_seed(1)
    config = ModelConfig(
        hidden_units=[16] * 6, activation=activation, initializer=initializer, initializer_args=args
    )
    return build_model(4, config)


def test_every_dense_layer_gets_gradient_and_weight_norms(regression_data):
    row = first_epoch(deep("relu", "glorot_uniform"), regression_data)
    layers = [f"hidden_{i}" for i in range(1, 7)] + ["output"]
    for layer in layers:
        assert row[f"diag/{layer}/grad_norm"] > 0
        assert row[f"diag/{layer}/grad_norm_max"] >= row[f"diag/{layer}/grad_norm"] * 0.999
        assert row[f"diag/{layer}/weight_norm"] > 0
    assert all(f"diag/{layer}/dead_fraction" in row for layer in layers[:-1])


def test_deep_sigmoid_with_small_initial_weights_gradients_vanish_towards_the_input(regression_data):
    row = first_epoch(deep("sigmoid", stddev=0.1, seed=1), regression_data)
    grads = per_layer(row, "grad_norm")  # hidden_1 ... hidden_6, output
    assert grads == sorted(grads), f"gradient norms should grow from input to output: {grads}"
    assert grads[0] < 1e-3 * grads[-1]


def test_deep_tanh_with_small_initial_weights_the_signal_vanishes_layer_by_layer(regression_data):
    small = first_epoch(deep("tanh", stddev=0.1, seed=1), regression_data)
    stds = per_layer(small, "act_std")
    assert stds[:4] == sorted(stds[:4], reverse=True)
    assert stds[-1] < 0.05 * stds[0]
    glorot = first_epoch(deep("tanh", "glorot_uniform"), regression_data)
    assert small["diag/output/grad_norm"] < 0.1 * glorot["diag/output/grad_norm"]


def test_relu_units_with_strongly_negative_biases_are_all_dead(regression_data):
    keras.utils.set_random_seed(1)
    model = build_model(4, ModelConfig(hidden_units=[16], activation="relu"))
    hidden = model.get_layer("hidden_1")
    hidden.bias.assign(np.full(16, -50.0, dtype="float32"))
    row = first_epoch(model, regression_data)
    assert row["diag/hidden_1/dead_fraction"] == 1.0
    assert row["diag/hidden_1/grad_norm"] == 0.0  # dead units pass no gradient, and never recover


def test_a_healthy_relu_layer_has_few_dead_units(regression_data):
    keras.utils.set_random_seed(1)
    model = build_model(4, ModelConfig(hidden_units=[16], activation="relu", initializer="he_normal"))
    row = first_epoch(model, regression_data)
    assert row["diag/hidden_1/dead_fraction"] < 0.5


def test_tanh_units_driven_far_into_their_tails_are_saturated(regression_data):
    keras.utils.set_random_seed(1)
    model = build_model(4, ModelConfig(hidden_units=[8], activation="tanh"))
    hidden = model.get_layer("hidden_1")
    hidden.bias.assign(np.full(8, 20.0, dtype="float32"))
    row = first_epoch(model, regression_data)
    assert row["diag/hidden_1/saturated_fraction"] == 1.0


def test_divergence_records_where_and_the_largest_gradient_before_it(regression_data):
    x, y = regression_data
    keras.utils.set_random_seed(1)
    model = build_model(4, ModelConfig(hidden_units=[8]))
    outcome = engine.train(
        model,
        keras.optimizers.SGD(0.01),
        (x, y * 1e4),
        (x, y * 1e4),
        epochs=5,
        batch_size=32,
        seed=1,
        diagnostics=True,
    )
    assert outcome.diverged_at is not None
    epoch, batch, loss = outcome.diverged_at
    assert epoch == 1 and batch > 1 and not np.isfinite(loss)
    assert outcome.max_grad_layer in {"hidden_1", "output"}
    assert outcome.max_grad_norm > 1e3
    assert all(np.isfinite(w).all() for w in model.get_weights()), "a non-finite batch must not update"


def test_diagnostics_off_records_none(regression_data):
    keras.utils.set_random_seed(1)
    model = build_model(4, ModelConfig(hidden_units=[8]))
    outcome = engine.train(
        model, keras.optimizers.SGD(0.01), regression_data, regression_data, epochs=2, batch_size=32, seed=1
    )
    assert not any(k.startswith("diag/") for k in outcome.history[-1])


def test_epoch_0_measures_the_network_as_initialized_before_any_update(regression_data):
    import tensorflow as tf

    model = deep("relu", "he_normal")
    x, y = regression_data
    with tf.GradientTape() as tape:  # the loss and the gradient the start row must report
        mse = tf.reduce_mean(tf.square(tf.reshape(model(x), [-1]) - y))
    kernel = float(tf.norm(tape.gradient(mse, model.layers[0].kernel)))
    outcome = engine.train(
        model, keras.optimizers.SGD(0.01), regression_data, regression_data, epochs=2, batch_size=32,
        seed=1, diagnostics=True,
    )  # fmt: skip
    start = outcome.history[0]
    assert [row["epoch"] for row in outcome.history] == [0, 1, 2]
    assert start["train_loss"] == pytest.approx(float(mse), rel=1e-5) == start["val_loss"]
    assert start["learning_rate"] == pytest.approx(0.01)
    assert start["diag/hidden_1/grad_norm"] == pytest.approx(kernel, rel=1e-4)  # all 256 rows probed
    assert start["diag/hidden_1/act_std"] > 0 and "diag/hidden_6/dead_fraction" in start


def test_weight_summary_counts_identical_units_near_zero_weights_and_the_norm() -> None:
    from pipeline.model.diagnostics import NEAR_ZERO, weight_summary

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(1)])
    hidden, output = model.layers
    hidden.kernel.assign(np.ones((3, 4)))  # four identical units
    hidden.bias.assign(np.zeros(4))
    output.kernel.assign(np.array([[0.0], [NEAR_ZERO / 2], [2.0], [-2.0]]))
    summary = weight_summary(model)
    assert summary["distinct_units_end"] == 0.25
    assert summary["near_zero_weights_end"] == 2 / 16
    assert summary["kernel_norm_end"] == pytest.approx(np.sqrt(12 + 8 + (NEAR_ZERO / 2) ** 2))
    hidden.kernel.assign(np.arange(12.0).reshape(3, 4))  # four different units
    assert weight_summary(model)["distinct_units_end"] == 1.0
