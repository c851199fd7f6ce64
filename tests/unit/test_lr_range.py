"""The learning-rate range test (pipeline.model.lr_range) on a problem whose good rates are
known: linear regression on standardized, independent inputs. Its MSE has Hessian 2 E[x x^T]
(eigenvalues near 2), so SGD is stable below a rate of about 2 / 2 = 1 and diverges above it;
a good rate is a few times below that limit."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.core.config import (
    LrRangeConfig,
    ModelConfig,
    OptimizerConfig,
    TrainingConfig,
)
from pipeline.model.lr_range import range_test, rates, suggest

STABLE_LIMIT = 1.0  # 2 / largest Hessian eigenvalue of the MSE on standardized inputs


@pytest.fixture(scope="module")
def linear_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2000, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 1.5]) + 0.1 * rng.standard_normal(2000)).astype("float32")
    return x, (y - y.mean()) / y.std()


def test_the_rates_rise_by_a_constant_factor_from_min_to_max() -> None:
    tried = rates(LrRangeConfig(min_lr=1e-9, max_lr=1.0, steps=10))
    assert np.allclose(tried, [10.0**e for e in range(-9, 1)])


def test_the_suggestion_is_where_the_loss_falls_fastest_before_its_lowest_point() -> None:
    tried = [10.0**e for e in range(-9, 2)]
    # a noisy first batch (left out), a plateau, the steepest fall at 1e-4, the lowest at 1e-1
    smoothed = [1.5, 1.0, 1.0, 0.99, 0.98, 0.6, 0.4, 0.3, 0.26, 0.25, 5.0]
    assert suggest(tried, smoothed) == 1e-4
    assert suggest(tried[:3], smoothed[:3]) is None  # too few points to tell


def test_sgd_on_linear_regression_is_told_a_rate_below_its_stable_limit(linear_data) -> None:
    training = TrainingConfig(
        epochs=1, batch_size=32, lr_range=LrRangeConfig(enabled=True, min_lr=1e-5, max_lr=100.0, steps=300)
    )
    result = range_test(
        ModelConfig(hidden_units=[], initializer="zeros"),
        OptimizerConfig(name="sgd", learning_rate=0.01),
        training,
        linear_data,
    )
    # it explodes just past the stable limit, as the theory says ...
    assert result.exploded_at is not None and STABLE_LIMIT < result.exploded_at < 4 * STABLE_LIMIT
    # ... and suggests a rate below it, where the loss falls fast, not a uselessly small one
    assert result.suggested is not None
    assert STABLE_LIMIT / 200 < result.suggested < STABLE_LIMIT / 4
    assert result.smoothed[0] > 0.9 and result.best < 0.01  # from the variance of y to the noise's
    assert len(result.rates) < 300  # it stopped once the loss exploded


def test_an_upside_down_range_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="max_lr"):
        LrRangeConfig(min_lr=1.0, max_lr=0.1)


def test_the_range_test_picture_shows_each_batch_and_marks_the_suggestion() -> None:
    from pipeline.model.lr_range import RangeTest
    from pipeline.reports.canvas import outside
    from pipeline.reports.lr_range_plot import range_test_plot

    result = RangeTest(
        rates=[1e-5, 1e-4, 1e-3, 1e-2], losses=[1.0, 0.9, 0.4, 9.0], smoothed=[1.0, 0.95, 0.7, 3.0]
    )
    result.suggested, result.exploded_at = 1e-3, 1e-2
    fig = range_test_plot(result)
    ax = fig.axes[0]
    lines = {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.get_lines()}
    assert lines["batch loss"] == (result.rates, result.losses)
    assert lines["smoothed loss"] == (result.rates, result.smoothed)
    assert lines["suggested 0.001"][0] == [1e-3, 1e-3] and lines["exploded at 0.01"][0] == [1e-2, 1e-2]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels() if 0.999e-5 <= t.get_position()[0] <= 1.001e-2] == [
        "1e\u221205", "0.0001", "0.001", "0.01",  # plain numbers, matplotlib's minus sign
    ]  # fmt: skip  (the ticks' positions: 10**k to within the last bit, which varies by CPU)
    assert outside(fig) == []
