"""The fused training loop (pipeline.model.engine.train) claims `model.fit`'s semantics: the
same optimizer steps on the same batches, loss = MSE + the layers' penalties, epoch losses
averaged over samples, validation after every epoch. With the batches made identical, the
two must give the same weights and per-epoch losses to float32 rounding; a wrong step
count, learning rate, penalty, loss average or optimizer state would not."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from pipeline.model import engine

N_INPUTS, ROWS, VALIDATION_ROWS, BATCH, EPOCHS, SEED = 5, 70, 30, 16, 4, 11  # 70 rows: a partial batch

# float32 rounding only. Both sides run the same Keras layers and optimizer on the same
# batches; measured (TF 2.21, Keras 3.15, CPU) the weights come out bit-identical and the
# epoch losses differ by at most ~1.2e-7 relative (about 1 ulp: fit's loss tracker and the
# loop sum and divide the batch losses in another order). Exact equality of the weights
# would hold hostage to graph-level changes (op fusion, reduction order) that are not
# errors, so allow a few ulps: rtol 1e-6 is ~8x the loss gap seen, atol 1e-7 covers values
# near zero. Real errors are far outside it: a 1% learning-rate change moves the weights by
# >1e-3 and the losses by >5e-3 relative; a dropped penalty or another row order, by >1e-2.
RTOL, ATOL = 1e-6, 1e-7


def network(l2: float, seed: int = 3) -> keras.Model:
    keras.utils.set_random_seed(seed)
    penalty = keras.regularizers.L2(l2) if l2 else None
    return keras.Sequential(
        [
            keras.Input(shape=(N_INPUTS,)),
            keras.layers.Dense(8, activation="relu", kernel_regularizer=penalty, name="hidden_1"),
            keras.layers.Dense(1, name="output"),
        ],
        name="regressor",
    )


def twin(model: keras.Model) -> keras.Model:
    """An identical network with the same starting weights."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def optimizer(name: str) -> keras.optimizers.Optimizer:
    return keras.optimizers.SGD(0.05) if name == "sgd" else keras.optimizers.Adam(0.01)


@pytest.fixture(scope="module")
def data() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(ROWS + VALIDATION_ROWS, N_INPUTS)).astype("float32")
    w = np.array([1.0, -2.0, 0.5, 0.0, 0.7], dtype="float32")
    y = (np.tanh(x @ w) + 0.1 * rng.normal(size=len(x))).astype("float32")
    return (x[:ROWS], y[:ROWS]), (x[ROWS:], y[ROWS:])


def fused_order(epoch: int) -> np.ndarray:
    """The fused loop's row order in epoch `epoch` (1-based): pipeline.model.epoch."""
    seed = tf.constant([SEED, epoch], tf.int64)
    return tf.random.experimental.stateless_shuffle(tf.range(ROWS), seed=seed).numpy()


def keras_fit(model: keras.Model, opt: keras.optimizers.Optimizer, data) -> list[dict[str, float]]:
    """`model.evaluate` at the start, then `model.fit`, one call per epoch on the rows in the
    fused loop's order, unshuffled: the same batches in the same order. The optimizer (and
    its state) persists across calls."""
    (x, y), (xv, yv) = data
    # jit_compile=False: the fused loop is not XLA-compiled; compare like with like
    model.compile(loss="mse", optimizer=opt, jit_compile=False)
    # epoch 0, the network as initialized: Keras' evaluate (the MSE plus the penalties)
    start = [model.evaluate(a, b.reshape(-1, 1), batch_size=BATCH, verbose=0) for a, b in ((x, y), (xv, yv))]
    history = [{"train_loss": start[0], "val_loss": start[1]}]
    for epoch in range(1, EPOCHS + 1):
        order = fused_order(epoch)
        logs = model.fit(
            x[order],
            y[order].reshape(-1, 1),
            batch_size=BATCH,
            epochs=epoch,
            initial_epoch=epoch - 1,
            shuffle=False,
            validation_data=(xv, yv.reshape(-1, 1)),
            validation_batch_size=BATCH,
            verbose=0,
        ).history
        history.append({"train_loss": logs["loss"][0], "val_loss": logs["val_loss"][0]})
    return history


def fused(model: keras.Model, opt: keras.optimizers.Optimizer, data) -> list[dict[str, float]]:
    outcome = engine.train(model, opt, data[0], data[1], epochs=EPOCHS, batch_size=BATCH, seed=SEED)
    assert outcome.diverged_at is None and [row["epoch"] for row in outcome.history] == list(
        range(EPOCHS + 1)
    )
    return outcome.history


@pytest.mark.parametrize("l2", [0.0, 0.01], ids=["plain", "l2"])
@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_the_fused_loop_gives_fits_weights_and_losses(data, opt: str, l2: float) -> None:
    start = network(l2)
    by_fit, by_loop = twin(start), twin(start)

    expected = keras_fit(by_fit, optimizer(opt), data)
    got = fused(by_loop, optimizer(opt), data)

    assert [v.name for v in by_loop.weights] == [v.name for v in by_fit.weights]
    for mine, theirs, variable in zip(
        by_loop.get_weights(), by_fit.get_weights(), by_fit.weights, strict=True
    ):
        np.testing.assert_allclose(mine, theirs, rtol=RTOL, atol=ATOL, err_msg=variable.path)
    for epoch, (mine, theirs) in enumerate(zip(got, expected, strict=True)):  # from epoch 0
        for key in ("train_loss", "val_loss"):
            np.testing.assert_allclose(
                mine[key], theirs[key], rtol=RTOL, atol=ATOL, err_msg=f"{key}, epoch {epoch}"
            )
    if l2:  # the penalty is part of the loss on both sides: the losses exceed the plain MSE
        assert all(row["train_loss"] > row["train_mse"] for row in got)
        assert all(row["val_loss"] > row["val_mse"] for row in got)

    # the loop's second run reuses the cached compiled function and its private network copy
    # (weights copied in and out): the same start gives exactly the same numbers
    again = twin(start)
    assert fused(again, optimizer(opt), data) == got
    for mine, theirs in zip(again.get_weights(), by_loop.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)
