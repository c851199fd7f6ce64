"""k-fold cross-validation of one configuration on the training and validation rows.

Each fold refits the scaling statistics on its own training rows (no leakage from the
held-out fold) and trains a fresh network with the same `fit` as a single run.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.config import ModelConfig, OptimizerConfig, TrainingConfig
from pipeline.core.errors import PipelineError
from pipeline.data.prepared import Prepared, matrices
from pipeline.data.split import fit_scaler
from pipeline.model.training import TrainResult, fit
from pipeline.reports.progress import epoch_progress


def fold_indices(rows: int, folds: int, seed: int) -> list[np.ndarray]:
    """Shuffled, near-equal held-out index sets covering every row once."""
    order = np.random.default_rng(seed).permutation(rows)
    return [np.sort(part) for part in np.array_split(order, folds)]


def stratified_fold_indices(codes: np.ndarray, folds: int, seed: int, source: str) -> list[np.ndarray]:
    """Held-out index sets with each class in the same proportion in every fold
    (scikit-learn's StratifiedKFold, shuffled with `seed`); a class with fewer rows than
    folds is a PipelineError naming it."""
    from sklearn.model_selection import StratifiedKFold

    counts = np.bincount(codes)
    few = {int(c): int(n) for c, n in enumerate(counts) if 0 < n < folds}
    if few:
        raise PipelineError(
            f"{source}: class index(es) {few} have fewer rows than training.cv_folds={folds}, too few to "
            f"stratify the folds (rows per class index: {counts.tolist()}); lower training.cv_folds"
        )
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [np.sort(held_out) for _, held_out in splitter.split(np.zeros(len(codes)), codes)]


def fit_fold(
    network: ModelConfig,
    optimizer: OptimizerConfig,
    training: TrainingConfig,
    prepared: Prepared,
    rows: pd.DataFrame,
    held_out: np.ndarray,
    fold: int,
) -> tuple[TrainResult, dict[str, Any]]:
    """Train a fresh network on `rows` but `held_out`, validated on those, with scaling fitted
    on the fold's own training rows; the result and that scaler."""
    mask = np.zeros(len(rows), dtype=bool)
    mask[held_out] = True
    train_rows, val_rows = rows.loc[~mask], rows.loc[mask]
    scaler = fit_scaler(train_rows, prepared.schema)
    with epoch_progress(training, f"cv fold {fold}/{training.cv_folds}") as progress:
        result = fit(
            network,
            optimizer,
            training,
            matrices(train_rows, prepared.schema, scaler, training),
            matrices(val_rows, prepared.schema, scaler, training),
            on_epoch=progress,
            task=prepared.task,
            classes=len(prepared.classes),
        )
    return result, scaler


def cross_validate(
    network: ModelConfig, optimizer: OptimizerConfig, training: TrainingConfig, seed: int, prepared: Prepared
) -> dict[str, float]:
    """Validation MSE (on the target as trained: scaled or not) and validation RMSE in the
    target's own units per fold, their means and standard deviations; folds drawn with
    `seed`, `training.cv_folds` of them.

    A diverged fold counts as infinite MSE, so a configuration that diverges never wins.
    """
    rows = pd.concat([prepared.parts["train"], prepared.parts["validation"]], ignore_index=True)
    if prepared.task != "regression":
        return cross_validate_classifier(network, optimizer, training, seed, prepared, rows)
    scores: list[float] = []
    rmse_original: list[float] = []
    epochs: list[int] = []
    for fold, held_out in enumerate(fold_indices(len(rows), training.cv_folds, seed), start=1):
        result, scaler = fit_fold(network, optimizer, training, prepared, rows, held_out, fold)
        best = result.best_epoch or result.epochs_run
        val = result.at_epoch(best)["val_mse"] if result.divergence is None else np.inf
        scores.append(float(val))
        target_std = scaler["target"]["std"] if training.scale_target else 1.0
        rmse_original.append(float(np.sqrt(val)) * target_std)
        epochs.append(result.epochs_run)
    metrics = {f"cv_fold{i + 1}_val_mse": s for i, s in enumerate(scores)}
    metrics |= {f"cv_fold{i + 1}_val_rmse_original": s for i, s in enumerate(rmse_original)}
    metrics |= {
        "cv_val_mse_mean": float(np.mean(scores)),
        "cv_val_mse_std": float(np.std(scores)),
        "cv_val_rmse_original_mean": float(np.mean(rmse_original)),
        "cv_val_rmse_original_std": float(np.std(rmse_original)),
        "cv_epochs_mean": float(np.mean(epochs)),
    }
    return metrics


def cross_validate_classifier(
    network: ModelConfig,
    optimizer: OptimizerConfig,
    training: TrainingConfig,
    seed: int,
    prepared: Prepared,
    rows: pd.DataFrame,
) -> dict[str, float]:
    """Stratified folds: validation log loss and accuracy per fold (at the restored epoch, if
    any), their means and standard deviations. A diverged fold counts as infinite log loss."""
    codes = rows[prepared.schema["target"]].to_numpy(dtype="int64")
    folds = stratified_fold_indices(codes, training.cv_folds, seed, str(prepared.directory))
    losses: list[float] = []
    accuracies: list[float] = []
    epochs: list[int] = []
    for fold, held_out in enumerate(folds, start=1):
        result, _ = fit_fold(network, optimizer, training, prepared, rows, held_out, fold)
        best = result.at_epoch(result.best_epoch or result.epochs_run)
        diverged = result.divergence is not None
        losses.append(np.inf if diverged else float(best["val_crossentropy"]))
        accuracies.append(0.0 if diverged else float(best["val_accuracy"]))
        epochs.append(result.epochs_run)
    metrics = {f"cv_fold{i + 1}_val_log_loss": v for i, v in enumerate(losses)}
    metrics |= {f"cv_fold{i + 1}_val_accuracy": v for i, v in enumerate(accuracies)}
    return metrics | {
        "cv_val_log_loss_mean": float(np.mean(losses)),
        "cv_val_log_loss_std": float(np.std(losses)),
        "cv_val_accuracy_mean": float(np.mean(accuracies)),
        "cv_val_accuracy_std": float(np.std(accuracies)),
        "cv_epochs_mean": float(np.mean(epochs)),
    }
