"""The compiled epoch function is reused across fits of the same structure (pipeline.model.epoch.compiled):
a reused function must give exactly the numbers a freshly traced one gives."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from pipeline.model import engine, epoch


def network(initializer: str, units: int = 6, activation: str = "relu", seed: int = 3) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input(shape=(4,)),
            keras.layers.Dense(units, activation=activation, kernel_initializer=initializer, name="hidden_1"),
            keras.layers.Dense(1, kernel_initializer=initializer, name="output"),
        ],
        name="regressor",
    )


def optimizer(name: str, learning_rate: float) -> keras.optimizers.Optimizer:
    if name == "momentum":
        return keras.optimizers.SGD(learning_rate, momentum=0.9)
    return {"sgd": keras.optimizers.SGD, "adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop}[
        name
    ](learning_rate)


@pytest.fixture
def data() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(70, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0], dtype="float32") + 0.1).astype("float32")
    return (x[:50], y[:50]), (x[50:], y[50:])


def fit(
    data: tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    initializer: str,
    opt: str,
    learning_rate: float,
    stopper: engine.EarlyStopping | None = None,
) -> tuple[keras.Model, engine.Outcome]:
    model = network(initializer)
    outcome = engine.train(
        model,
        optimizer(opt, learning_rate),
        data[0],
        data[1],
        epochs=12,
        batch_size=16,
        seed=7,
        early_stopping=stopper,
        diagnostics=True,
    )
    return model, outcome


@pytest.mark.parametrize("opt", ["sgd", "momentum", "adam", "rmsprop"])
def test_a_reused_function_gives_the_numbers_of_a_fresh_one(data, opt: str) -> None:
    epoch._compiled.clear()
    fit(data, "glorot_uniform", opt, 0.05)  # compiles the structure, other start and learning rate
    reused_model, reused = fit(data, "he_normal", opt, 0.01)
    assert len(epoch._compiled) == 1, "the second fit did not reuse the compiled function"

    epoch._compiled.clear()
    fresh_model, fresh = fit(data, "he_normal", opt, 0.01)

    assert reused.history == fresh.history  # every loss, learning rate and diagnostic, exactly
    for mine, theirs in zip(reused_model.get_weights(), fresh_model.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_early_stopping_restores_the_same_weights_with_a_reused_function(data) -> None:
    def stopper() -> engine.EarlyStopping:
        return engine.EarlyStopping("val_loss", patience=2, min_delta=0.0, restore_best_weights=True)

    epoch._compiled.clear()
    fit(data, "glorot_uniform", "adam", 0.3, stopper())
    reused_model, reused = fit(data, "he_normal", "adam", 0.2, stopper())
    epoch._compiled.clear()
    fresh_model, fresh = fit(data, "he_normal", "adam", 0.2, stopper())
    assert (reused.stopped_epoch, reused.history) == (fresh.stopped_epoch, fresh.history)
    for mine, theirs in zip(reused_model.get_weights(), fresh_model.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_a_later_fit_leaves_an_earlier_model_alone(data) -> None:
    epoch._compiled.clear()
    first, _ = fit(data, "glorot_uniform", "sgd", 0.05)
    kept = [w.copy() for w in first.get_weights()]
    fit(data, "he_normal", "sgd", 0.01)
    for now, before in zip(first.get_weights(), kept, strict=True):
        np.testing.assert_array_equal(now, before)


def test_structure_key_ignores_the_start_and_the_learning_rate_only() -> None:
    def key(model: keras.Model, opt: keras.optimizers.Optimizer, batch: int = 32, diag: bool = True) -> str:
        return epoch.structure_key(model, opt, batch, diag)

    base = key(network("he_normal"), optimizer("adam", 0.01))
    assert key(network("zeros"), optimizer("adam", 0.5)) == base
    assert key(network("he_normal", units=7), optimizer("adam", 0.01)) != base
    assert key(network("he_normal", activation="tanh"), optimizer("adam", 0.01)) != base
    assert key(network("he_normal"), optimizer("rmsprop", 0.01)) != base
    assert key(network("he_normal"), keras.optimizers.Adam(0.01, beta_1=0.8)) != base
    assert key(network("he_normal"), optimizer("adam", 0.01), batch=16) != base
    assert key(network("he_normal"), optimizer("adam", 0.01), diag=False) != base
    schedule = keras.optimizers.schedules.InverseTimeDecay(0.01, decay_steps=10, decay_rate=0.5)
    assert key(network("he_normal"), keras.optimizers.Adam(schedule)) != base
