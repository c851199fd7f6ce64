"""k-fold cross-validation of one configuration on the training and validation rows.

Each fold refits the scaling statistics on its own training rows (no leakage from the
held-out fold) and trains a fresh network with the same `fit` as a single run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.core.config import ModelConfig, OptimizerConfig, TrainingConfig
from pipeline.data.prepared import Prepared, matrices
from pipeline.data.split import fit_scaler
from pipeline.model.training import fit
from pipeline.reports.progress import epoch_progress


def fold_indices(rows: int, folds: int, seed: int) -> list[np.ndarray]:
    """Shuffled, near-equal held-out index sets covering every row once."""
    order = np.random.default_rng(seed).permutation(rows)
    return [np.sort(part) for part in np.array_split(order, folds)]


def cross_validate(
    network: ModelConfig, optimizer: OptimizerConfig, training: TrainingConfig, seed: int, prepared: Prepared
) -> dict[str, float]:
    """Validation MSE (on the target as trained: scaled or not) and validation RMSE in the
    target's own units per fold, their means and standard deviations; folds drawn with
    `seed`, `training.cv_folds` of them.

    A diverged fold counts as infinite MSE, so a configuration that diverges never wins.
    """
    rows = pd.concat([prepared.parts["train"], prepared.parts["validation"]], ignore_index=True)
    scores: list[float] = []
    rmse_original: list[float] = []
    epochs: list[int] = []
    for fold, held_out in enumerate(fold_indices(len(rows), training.cv_folds, seed), start=1):
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
            )
        best = result.best_epoch or result.epochs_run
        val = result.history[best - 1]["val_mse"] if result.divergence is None else np.inf
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
