"""The learning-rate range test (L. Smith, "Cyclical Learning Rates for Training Neural
Networks", 2017): one pass over the training data, batch after batch, with the learning rate
raised exponentially from a small to a large value, recording the loss against the rate.
The loss first barely moves (too small a rate), then falls fastest, then explodes; the rate
where it falls fastest is the suggested one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from pipeline.core.config import LrRangeConfig, ModelConfig, OptimizerConfig, ScheduleConfig, TrainingConfig
from pipeline.model.losses import batch_terms, output_units
from pipeline.model.network import build_model, make_optimizer


@dataclass
class RangeTest:
    """Per batch: the rate it was trained at, its loss and the smoothed loss."""

    rates: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    smoothed: list[float] = field(default_factory=list)
    suggested: float | None = None  # where the smoothed loss falls fastest against log(rate)
    exploded_at: float | None = None  # the rate at which the loss exploded, if it did

    @property
    def best(self) -> float:
        """The lowest smoothed loss."""
        return min(self.smoothed) if self.smoothed else math.nan


def rates(settings: LrRangeConfig) -> np.ndarray:
    """The rates of the steps: `steps` values from `min_lr` to `max_lr`, evenly spaced in log."""
    return np.geomspace(settings.min_lr, settings.max_lr, settings.steps)


SKIP_START = 0.1  # share of the first batches left out of the suggestion: the moving average
# is still settling there, and one noisy batch looks like a steep fall
SLOPE_SPAN = 0.05  # the slope at a batch is taken over this share of the batches on each side


def suggest(rates_tried: list[float], smoothed: list[float]) -> float | None:
    """The rate where the smoothed loss falls fastest against log(rate), the slope taken over
    SLOPE_SPAN of the batches each side (one batch's noise is no fall), looked for after the
    first SKIP_START of the batches and up to its lowest point (after it, the loss only
    rises); None when fewer than 3 points lie in between."""
    lowest = int(np.argmin(smoothed)) if smoothed else 0
    first = int(len(smoothed) * SKIP_START)
    if lowest - first < 2:
        return None
    span = max(1, int(len(smoothed) * SLOPE_SPAN))
    logs, values = np.log(np.asarray(rates_tried)), np.asarray(smoothed)
    slopes = []
    for index in range(first, lowest + 1):
        low, high = max(index - span, 0), min(index + span, len(values) - 1)
        slopes.append((values[high] - values[low]) / (logs[high] - logs[low]))
    return float(rates_tried[first + int(np.argmin(slopes))])


def range_test(
    network: ModelConfig,
    optimizer: OptimizerConfig,
    training: TrainingConfig,
    train: tuple[np.ndarray, np.ndarray],
    task: str = "regression",
    classes: int = 0,
) -> RangeTest:
    """Run the test of `training.lr_range` on a freshly built, seeded network with the
    configured optimizer (its learning rate and schedule replaced by the test's rates).
    Stops at the last rate, or when the loss is not finite or its smoothed value exceeds
    `explode` times the lowest so far."""
    settings = training.lr_range
    keras.utils.set_random_seed(training.seed)
    model = build_model(train[0].shape[1], network, output_units(task, classes), task)
    constant = optimizer.model_copy(update={"learning_rate": settings.min_lr, "schedule": ScheduleConfig()})
    opt = make_optimizer(constant)
    variables = model.trainable_variables
    opt.build(variables)

    @tf.function(reduce_retracing=True)
    def step(xb: tf.Tensor, yb: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            data_loss, _ = batch_terms(task, model(xb, training=True), yb)
            loss = data_loss + (tf.add_n(model.losses) if model.losses else 0.0)
        if tf.math.is_finite(loss):
            opt.apply(tape.gradient(loss, variables), variables)
        return loss

    x = tf.convert_to_tensor(train[0], tf.float32)
    y = tf.convert_to_tensor(train[1], tf.float32)
    n, size = int(x.shape[0]), training.batch_size
    order = np.random.default_rng(training.seed).permutation(n)
    result, average, start = RangeTest(), 0.0, 0
    for index, rate in enumerate(rates(settings)):
        if start >= n:  # a new pass over the data, freshly shuffled
            order, start = np.random.default_rng(training.seed + index).permutation(n), 0
        rows = order[start : start + size]
        start += size
        opt.learning_rate = float(rate)
        loss = float(step(tf.gather(x, rows), tf.gather(y, rows)))
        if not math.isfinite(loss):
            result.exploded_at = float(rate)
            break
        average = settings.smoothing * average + (1 - settings.smoothing) * loss
        smooth = average / (1 - settings.smoothing ** (index + 1))  # bias-corrected, as Adam's moments
        result.rates.append(float(rate))
        result.losses.append(loss)
        result.smoothed.append(smooth)
        if smooth > settings.explode * result.best:
            result.exploded_at = float(rate)
            break
    result.suggested = suggest(result.rates, result.smoothed)
    return result
