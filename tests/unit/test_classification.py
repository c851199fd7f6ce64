"""Classification in the fused loop and the metrics: losses from logits, accuracy per epoch,
early stopping on accuracy, stratified splits and folds, probabilities and served columns."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss

from pipeline.core.config import EarlyStoppingConfig, ModelConfig, OptimizerConfig, TrainingConfig
from pipeline.core.errors import PipelineError
from pipeline.data.outputs import label_frame, probabilities
from pipeline.data.split import stratified_partition
from pipeline.experiments.crossval import stratified_fold_indices
from pipeline.model.class_metrics import classification_metrics
from pipeline.model.engine import EarlyStopping, predict
from pipeline.model.training import fit


def blobs(rows: int, classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Well separated Gaussian blobs in 2-D, one per class."""
    rng = np.random.default_rng(seed)
    labels = np.arange(rows) % classes
    centres = np.stack([np.cos(labels * 2 * np.pi / classes), np.sin(labels * 2 * np.pi / classes)], 1) * 3
    x = (centres + rng.normal(0, 0.5, (rows, 2))).astype("float32")
    return x, labels.astype("float32")


def training(epochs: int = 15, **extra: object) -> TrainingConfig:
    return TrainingConfig(epochs=epochs, batch_size=32, progress=False, diagnostics=True, **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(("task", "classes"), [("binary", 2), ("multiclass", 4)])
def test_a_classifier_learns_separable_blobs_and_records_accuracy(task: str, classes: int) -> None:
    train, val = blobs(400, classes), blobs(200, classes, seed=1)
    result = fit(
        ModelConfig(hidden_units=[16]),
        OptimizerConfig(name="adam", learning_rate=0.01),
        training(),
        train,
        val,
        task=task,
        classes=classes,
    )
    last = result.history[-1]
    assert {"train_accuracy", "val_accuracy", "train_crossentropy", "val_crossentropy"} <= set(last)
    assert "val_mse" not in last
    assert last["val_accuracy"] > 0.95, last
    assert result.history[0]["val_loss"] > last["val_loss"]
    # the recorded validation loss is the log loss of the softmax/sigmoid of the logits
    proba = probabilities(task, predict(result.model, val[0]))
    assert proba.shape == (200, classes)
    assert last["val_crossentropy"] == pytest.approx(
        log_loss(val[1], proba, labels=list(range(classes))), rel=1e-3
    )
    # the output counts as saturated like a hidden unit
    assert "diag/output/saturated_fraction" in last
    assert result.model.layers[-1].units == (classes if task == "multiclass" else 1)


def test_confident_wrong_logits_give_a_finite_loss() -> None:
    """Losses come from logits: a logit of 80 on the wrong class is a loss of about 80, not inf."""
    model = keras.Sequential(
        [
            keras.Input((1,)),
            keras.layers.Dense(
                1, kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(80.0)
            ),
        ]
    )
    from pipeline.model.losses import batch_terms

    loss, correct = batch_terms("binary", model(np.zeros((4, 1), "float32")), np.zeros(4, "float32"))
    assert float(loss) == pytest.approx(80.0, rel=1e-4)
    assert float(correct) == 0.0


def test_early_stopping_on_accuracy_waits_for_a_rise() -> None:
    stopper = EarlyStopping("val_accuracy", patience=2, min_delta=0.0, restore_best_weights=False)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    assert not stopper.update(1, {"val_accuracy": 0.5}, model)
    assert not stopper.update(2, {"val_accuracy": 0.8}, model)  # a rise: the new best
    assert stopper.best_epoch == 2
    assert not stopper.update(3, {"val_accuracy": 0.7}, model)
    assert stopper.update(4, {"val_accuracy": 0.79}, model)  # two epochs without beating 0.8
    assert stopper.best_epoch == 2


def test_early_stopping_config_accepts_accuracy() -> None:
    assert EarlyStoppingConfig(enabled=True, monitor="val_accuracy").monitor == "val_accuracy"


def test_metrics_match_hand_computed_values() -> None:
    actual = np.array([0, 1, 1, 0])
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    m = classification_metrics(actual, proba, ["a", "b"])
    assert m["accuracy"] == 0.5
    assert m["log_loss"] == pytest.approx(-np.mean(np.log([0.9, 0.8, 0.4, 0.3])))
    assert m["roc_auc"] == pytest.approx(0.75)  # 3 of the 4 (positive, negative) pairs ranked right
    assert m["f1_macro"] == pytest.approx(0.5)
    three = classification_metrics(np.array([0, 1, 2]), np.eye(3), ["x", "y", "z"])
    assert three["accuracy"] == 1.0 and "roc_auc" not in three


def test_probabilities_and_the_served_columns() -> None:
    binary = probabilities("binary", np.array([0.0, 2.0]))
    assert binary[0].tolist() == [0.5, 0.5]
    assert binary[1, 1] == pytest.approx(1 / (1 + np.exp(-2.0)))
    multi = probabilities("multiclass", np.array([[1000.0, 0.0, 0.0], [0.0, 1.0, 2.0]]))
    assert np.allclose(multi.sum(axis=1), 1.0) and multi[0, 0] == 1.0  # no overflow
    frame = label_frame(multi, ["cat", "dog", "eel"])
    assert list(frame.columns) == ["label", "probability_cat", "probability_dog", "probability_eel"]
    assert frame["label"].tolist() == ["cat", "eel"]


def test_stratified_split_keeps_class_shares_in_every_partition() -> None:
    codes = np.array([0] * 80 + [1] * 20)
    frame = pd.DataFrame({"x": np.arange(100.0), "y": codes})
    parts = stratified_partition(frame, {"train": 60, "validation": 20, "test": 20}, 7, "y", ["a", "b"], "s")
    assert {p: len(f) for p, f in parts.items()} == {"train": 60, "validation": 20, "test": 20}
    for part in parts.values():
        assert part["y"].mean() == pytest.approx(0.2)
    seen = np.concatenate([p["x"].to_numpy() for p in parts.values()])
    assert sorted(seen) == list(np.arange(100.0))  # disjoint, covering every row
    again = stratified_partition(frame, {"train": 60, "validation": 20, "test": 20}, 7, "y", ["a", "b"], "s")
    assert all(parts[p].equals(again[p]) for p in parts)  # seeded


def test_a_class_too_small_to_stratify_is_named() -> None:
    frame = pd.DataFrame({"x": np.arange(12.0), "y": [0] * 10 + [1] * 2})
    with pytest.raises(PipelineError) as info:
        stratified_partition(
            frame, {"train": 8, "validation": 2, "test": 2}, 0, "y", ["ok", "rare"], "s.parquet"
        )
    message = str(info.value)
    assert message.startswith("s.parquet: class(es) {'rare': 2} of 'y' have too few rows to stratify")
    assert "{'ok': 10, 'rare': 2}" in message


def test_a_partition_smaller_than_the_classes_is_refused() -> None:
    frame = pd.DataFrame({"x": np.arange(40.0), "y": np.arange(40) % 4})
    with pytest.raises(PipelineError, match=r"fewer rows than the 4 classes.*split.test=0.2"):
        stratified_partition(frame, {"train": 34, "validation": 4, "test": 2}, 0, "y", list("abcd"), "s")


def test_stratified_folds_cover_each_row_once_with_every_class() -> None:
    codes = np.array([0] * 30 + [1] * 9)
    folds = stratified_fold_indices(codes, 3, seed=1, source="s")
    assert sorted(np.concatenate(folds).tolist()) == list(range(39))
    assert all(np.bincount(codes[f]).tolist() == [10, 3] for f in folds)
    with pytest.raises(PipelineError, match=r"fewer rows than training.cv_folds=3"):
        stratified_fold_indices(np.array([0] * 10 + [1] * 2), 3, seed=1, source="s")


def test_a_classifier_that_diverges_stops_and_says_where() -> None:
    """Divergence detection works for cross-entropy as for MSE: the first non-finite batch loss
    stops training at once and is reported with its epoch and batch."""
    train, val = blobs(200, 3), blobs(60, 3, seed=1)
    result = fit(
        ModelConfig(hidden_units=[16], initializer="random_normal", initializer_args={"stddev": 1e18}),
        OptimizerConfig(name="sgd", learning_rate=1e30),
        training(epochs=5),
        train,
        val,
        task="multiclass",
        classes=3,
    )
    assert result.status == "diverged", result.history
    d = result.divergence
    assert d is not None and not np.isfinite(d.loss) and d.batch >= 1
    assert result.epochs_run == d.epoch < 5  # stopped in the epoch it happened
