"""Does the fused training loop keep its speed for classifiers?

    python benchmarks/classifier_fit.py [--epochs 30] [--repeats 3] [--json classifier_fit.json]

In one warm process, on scikit-learn's digits (the `digits_mlp` preset's network: 64 inputs,
Dense(50, relu) twice, 10 logits, Adam lr 0.001, batch 32, the preset's 30 % validation), and
on the breast-cancer data (30 inputs, Dense(8, relu), 1 logit): seconds per fit of Keras'
`model.fit` (sparse / binary cross-entropy from logits, accuracy, validation every epoch)
against the project's fused loop (`pipeline.model.training.fit`), the ratio fused / fit, and
both final validation accuracies (the same training, so they should be close).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import environment, median, report

TASKS = {  # data set -> (task, hidden units)
    "digits": ("multiclass", [50, 50]),
    "breast_cancer": ("binary", [8]),
}


def arrays(name: str) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray], int]:
    """Standardized, stratified train and validation arrays (70 / 30) and the class count."""
    from sklearn.datasets import load_breast_cancer, load_digits
    from sklearn.model_selection import train_test_split

    x, y = (load_digits if name == "digits" else load_breast_cancer)(return_X_y=True)
    xt, xv, yt, yv = train_test_split(x, y, test_size=0.3, stratify=y, random_state=42)
    mean, std = xt.mean(axis=0), np.where(xt.std(axis=0) > 0, xt.std(axis=0), 1.0)
    scale = lambda a: ((a - mean) / std).astype("float32")  # noqa: E731
    return (scale(xt), yt.astype("float32")), (scale(xv), yv.astype("float32")), int(y.max()) + 1


def keras_fit(task: str, hidden: list[int], train: Any, val: Any, classes: int, epochs: int) -> float:
    import keras

    keras.utils.set_random_seed(1)
    layers = [keras.Input((train[0].shape[1],))] + [keras.layers.Dense(u, activation="relu") for u in hidden]
    model = keras.Sequential([*layers, keras.layers.Dense(classes if task == "multiclass" else 1)])
    if task == "multiclass":
        loss, metric = (
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            "sparse_categorical_accuracy",
        )
    else:
        loss, metric = (
            keras.losses.BinaryCrossentropy(from_logits=True),
            keras.metrics.BinaryAccuracy(threshold=0.0),
        )
    model.compile(optimizer=keras.optimizers.Adam(0.001), loss=loss, metrics=[metric])
    history = model.fit(*train, validation_data=val, epochs=epochs, batch_size=32, verbose=0)
    return float(history.history[next(k for k in history.history if k.startswith("val_") and "acc" in k)][-1])


def fused_fit(task: str, hidden: list[int], train: Any, val: Any, classes: int, epochs: int) -> float:
    from pipeline.core.config import ModelConfig, OptimizerConfig, TrainingConfig
    from pipeline.model.training import fit

    result = fit(
        ModelConfig(hidden_units=hidden),
        OptimizerConfig(name="adam", learning_rate=0.001),
        TrainingConfig(epochs=epochs, batch_size=32, seed=1, progress=False, diagnostics=False),
        train,
        val,
        task=task,
        classes=classes,
    )
    return float(result.history[-1]["val_accuracy"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    figures: dict[str, Any] = {"environment": environment(), "epochs": args.epochs, "repeats": args.repeats}
    lines: list[str] = []
    for name, (task, hidden) in TASKS.items():
        train, val, classes = arrays(name)
        variants = {"keras_fit": keras_fit, "fused": fused_fit}
        times: dict[str, list[float]] = {v: [] for v in variants}
        accuracy: dict[str, float] = {}
        for run in variants.values():  # warm-up, untimed
            run(task, hidden, train, val, classes, 2)
        for repeat in range(args.repeats):
            order = list(variants) if repeat % 2 == 0 else list(reversed(variants))
            for variant in order:
                started = time.perf_counter()
                accuracy[variant] = variants[variant](task, hidden, train, val, classes, args.epochs)
                times[variant].append(time.perf_counter() - started)
        fit_s, fused_s = median(times["keras_fit"]), median(times["fused"])
        figures[name] = {
            "task": task,
            "keras_fit_s": fit_s,
            "fused_s": fused_s,
            "fused_over_fit": fused_s / fit_s if fit_s and fused_s else None,
            "val_accuracy": accuracy,
        }
        lines.append(
            f"{name} ({task}, {train[0].shape[0]} training rows, {args.epochs} epochs): "
            f"model.fit {fit_s:.2f} s, "
            f"fused loop {fused_s:.2f} s, fused / fit {fused_s / fit_s:.2f}; final val accuracy "
            f"fit {accuracy['keras_fit']:.3f}, fused {accuracy['fused']:.3f}"
        )
    report(figures, lines, args.json)


if __name__ == "__main__":
    main()
