"""Distributions per layer (pipeline.model.distributions) tell the initializers apart as the
papers do: zeros make every hidden unit the same, He keeps a deep ReLU net's activations
spread, small random weights let the spread die out with depth."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from pipeline.core.config import ModelConfig
from pipeline.model.distributions import QUANTITIES, layer_values, summaries
from pipeline.model.network import build_model


@pytest.fixture(scope="module")
def rows() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((512, 8)).astype("float32")
    return x, x.sum(axis=1).astype("float32")


def deep(initializer: str, args: dict | None = None) -> keras.Model:
    keras.utils.set_random_seed(1)
    config = ModelConfig(
        hidden_units=[64] * 12, activation="relu", initializer=initializer, initializer_args=args or {}
    )
    return build_model(8, config)


def spreads(record: dict, quantity: str = "activation") -> list[float]:
    return [record[f"hidden_{i}"][quantity]["std"] for i in range(1, 13)]


def test_every_layer_has_each_quantity_with_its_quantiles(rows) -> None:
    record = summaries(layer_values(deep("he_normal"), *rows))
    assert list(record) == [f"hidden_{i}" for i in range(1, 13)] + ["output"]
    assert all(set(record[layer]) == set(QUANTITIES) for layer in record)
    quantiles = record["hidden_3"]["preactivation"]["quantiles"]
    assert list(quantiles) == ["0.01", "0.05", "0.25", "0.5", "0.75", "0.95", "0.99"]
    assert list(quantiles.values()) == sorted(quantiles.values())


def test_zeros_make_every_hidden_unit_identical(rows) -> None:
    record = summaries(layer_values(deep("zeros"), *rows))
    assert all(record[f"hidden_{i}"]["activation"]["across_units_std"] == 0.0 for i in range(1, 13))
    assert all(record[f"hidden_{i}"]["kernel_gradient"]["std"] == 0.0 for i in range(2, 13))  # no signal back


def test_he_keeps_relu_spread_through_depth_and_small_weights_lose_it(rows) -> None:
    he = spreads(summaries(layer_values(deep("he_normal"), *rows)))
    inputs = float(rows[0].std())
    assert all(inputs / 10 < s < inputs * 10 for s in he), he  # within a factor of 10, 12 layers deep
    small = spreads(summaries(layer_values(deep("random_normal", {"stddev": 0.05, "seed": 1}), *rows)))
    assert small[-1] < small[0] * 1e-4, small  # vanishes with depth: a factor of ~3 a layer
    assert all(later < earlier for earlier, later in zip(small, small[1:], strict=False))


def test_a_diverging_networks_values_are_summarized_without_overflow() -> None:
    import warnings

    from pipeline.model.distributions import summary

    values = np.array([[3e38, -3e38], [np.inf, 1.0]], dtype="float32")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from squaring float32
        found = summary(values)
    assert found["non_finite"] == 1 and found["std"] > 1e38
    assert "across_units_std" not in found  # not defined with a non-finite unit
