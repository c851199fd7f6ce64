"""The pictures users look at, as PNG files (matplotlib, non-interactive backend).

Pure functions of the data they draw: `<name>_figure` returns the figure laid out (for a test
to read back), `<name>` writes it to one file and returns its path.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.reports import class_plots, distribution_plots
from pipeline.reports.canvas import TITLE_Y, finish, whole_epochs
from pipeline.reports.canvas import figure as _figure
from pipeline.reports.canvas import save as _save

MAX_UNIT_LINES = 64  # more hidden units than this are subsampled in the unit plot
DRAWING_WORKERS = 2  # a job's pictures drawn two at a time: it waits less for them at its end


def learning_curves_figure(
    history: pd.DataFrame, stopped_epoch: int | None = None, best_epoch: int | None = None
) -> Any:
    """Training and validation loss per epoch, with the early-stopping epochs marked; for a
    classifier, its accuracy per epoch in a second panel."""
    classifier = "val_accuracy" in history
    fig, axes = _figure(1, 2 if classifier else 1, (14, 5) if classifier else (8, 5))
    ax = axes[0, 0]
    for column, label in (("train_loss", "training loss"), ("val_loss", "validation loss")):
        if column in history:
            ax.plot(history["epoch"], history[column], label=label, linewidth=1.6)
    if best_epoch is not None:
        ax.axvline(
            best_epoch,
            color="green",
            linestyle="--",
            linewidth=1,
            label=f"best epoch {best_epoch} (restored)",
        )
    if stopped_epoch is not None:
        ax.axvline(
            stopped_epoch,
            color="crimson",
            linestyle=":",
            linewidth=1.2,
            label=f"stopped at epoch {stopped_epoch}",
        )
    values = history[[c for c in ("train_loss", "val_loss") if c in history]].to_numpy()
    if values.size and np.nanmin(values) > 0:
        ax.set_yscale("log")
    whole_epochs(ax)
    ax.set_xlabel("epoch")
    data_loss = "cross-entropy" if classifier else "MSE on the scaled target"
    ax.set_ylabel(f"loss ({data_loss}, plus penalties)")
    ax.set_title("Learning curves", y=TITLE_Y)
    ax.grid(True, alpha=0.3)
    ax.legend()
    if classifier:
        accuracy = axes[0, 1]
        for column, label in (
            ("train_accuracy", "training accuracy"),
            ("val_accuracy", "validation accuracy"),
        ):
            if column in history:
                accuracy.plot(history["epoch"], history[column], label=label, linewidth=1.6)
        accuracy.set_xlabel("epoch")
        accuracy.set_ylabel("accuracy")
        accuracy.set_title("Accuracy", y=TITLE_Y)
        accuracy.grid(True, alpha=0.3)
        accuracy.legend()
    return finish(fig)


def learning_curves(
    history: pd.DataFrame, path: Path, stopped_epoch: int | None = None, best_epoch: int | None = None
) -> Path:
    """`learning_curves_figure` written to `path`."""
    return _save(learning_curves_figure(history, stopped_epoch, best_epoch), path)


def predicted_vs_actual_figure(predictions: dict[str, pd.DataFrame], target: str) -> Any:
    """Predicted against actual, in the target's units, on the validation and test sets."""
    parts = [p for p in ("validation", "test") if p in predictions]
    fig, axes = _figure(1, len(parts), (5.2 * len(parts), 5))
    for ax, part in zip(axes[0], parts, strict=True):
        frame = predictions[part]
        ax.scatter(frame["actual"], frame["predicted"], s=12, alpha=0.6)
        low = float(min(frame["actual"].min(), frame["predicted"].min()))
        high = float(max(frame["actual"].max(), frame["predicted"].max()))
        ax.plot(
            [low, high], [low, high], color="gray", linestyle="--", linewidth=1, label="perfect prediction"
        )
        ax.set_xlabel(f"actual {target}")
        ax.set_ylabel(f"predicted {target}")
        ax.set_title(f"{part} set ({len(frame)} rows)", y=TITLE_Y)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper left")
    return finish(fig)


def predicted_vs_actual(predictions: dict[str, pd.DataFrame], target: str, path: Path) -> Path:
    """`predicted_vs_actual_figure` written to `path`."""
    return _save(predicted_vs_actual_figure(predictions, target), path)


def residuals_figure(predictions: dict[str, pd.DataFrame], target: str) -> Any:
    """Residuals (predicted minus actual) against the prediction, validation and test sets."""
    parts = [p for p in ("validation", "test") if p in predictions]
    fig, axes = _figure(1, len(parts), (5.2 * len(parts), 4.5))
    for ax, part in zip(axes[0], parts, strict=True):
        frame = predictions[part]
        ax.scatter(frame["predicted"], frame["predicted"] - frame["actual"], s=12, alpha=0.6)
        ax.axhline(0.0, color="gray", linestyle="--", linewidth=1)
        ax.set_xlabel(f"predicted {target}")
        ax.set_ylabel(f"residual ({target} units)")
        ax.set_title(f"Residuals, {part} set", y=TITLE_Y)
        ax.grid(True, alpha=0.3)
    return finish(fig)


def residuals(predictions: dict[str, pd.DataFrame], target: str, path: Path) -> Path:
    """`residuals_figure` written to `path`."""
    return _save(residuals_figure(predictions, target), path)


def layer_columns(history: pd.DataFrame, quantity: str) -> dict[str, str]:
    """{layer: column} for the `diag/<layer>/<quantity>` columns of a history."""
    suffix = f"/{quantity}"
    return {c.split("/")[1]: c for c in history.columns if c.startswith("diag/") and c.endswith(suffix)}


def layer_diagnostics_figure(history: pd.DataFrame) -> Any | None:
    """Per-layer gradient norm, and dead or saturated unit fraction, over the epochs."""
    grads = layer_columns(history, "grad_norm")
    if not grads:
        return None
    fig, axes = _figure(2, 1, (8, 7.5), sharex=True)
    top, bottom = axes[:, 0]
    for layer, column in grads.items():
        top.plot(history["epoch"], history[column], label=layer, linewidth=1.4)
    if (history[list(grads.values())].to_numpy() > 0).all():
        top.set_yscale("log")
    top.set_ylabel("kernel gradient norm (RMS over the epoch's steps)")
    top.set_title("Gradients per layer (output layer last)", y=TITLE_Y)
    top.grid(True, alpha=0.3)
    top.legend(fontsize=8)
    drawn = False
    for quantity, style in (("dead_fraction", "-"), ("saturated_fraction", "--")):
        for layer, column in layer_columns(history, quantity).items():
            label = f"{layer} {'dead (ReLU)' if quantity == 'dead_fraction' else 'saturated'}"
            bottom.plot(history["epoch"], history[column], style, label=label, linewidth=1.4)
            drawn = True
    bottom.set_ylim(-0.03, 1.03)
    whole_epochs(bottom)
    bottom.set_xlabel("epoch")
    bottom.set_ylabel("fraction of the layer's units")
    bottom.set_title("Dead ReLU units (output 0 on every sampled row) and saturated units", y=TITLE_Y)
    bottom.grid(True, alpha=0.3)
    if drawn:
        bottom.legend(fontsize=8)
    else:
        bottom.text(
            0.5, 0.5, "no ReLU, tanh or sigmoid hidden layer", ha="center", transform=bottom.transAxes
        )
    return finish(fig)


def layer_diagnostics(history: pd.DataFrame, path: Path) -> Path | None:
    """`layer_diagnostics_figure` written to `path`; None (nothing written) without diagnostics."""
    fig = layer_diagnostics_figure(history)
    return None if fig is None else _save(fig, path)


def function_fit_figure(
    grid: np.ndarray,
    fitted: np.ndarray,
    points: dict[str, tuple[np.ndarray, np.ndarray]],
    feature: str,
    target: str,
) -> Any:
    """For one-input data: the fitted function over the input range, with the data points."""
    fig, axes = _figure(1, 1, (8, 5))
    ax = axes[0, 0]
    styles = {
        "validation": {"s": 6, "alpha": 0.25, "color": "gray"},
        "train": {"s": 22, "alpha": 0.9, "color": "tab:blue"},
    }
    for part in ("validation", "train"):
        if part in points:
            x, y = points[part]
            ax.scatter(x, y, label=f"{part} points ({len(x)})", **styles[part])
    ax.plot(grid, fitted, color="crimson", linewidth=2, label="fitted function")
    ax.set_xlabel(feature)
    ax.set_ylabel(target)
    ax.set_title("What the network learned", y=TITLE_Y)
    ax.grid(True, alpha=0.3)
    ax.legend()
    return finish(fig)


def function_fit(
    grid: np.ndarray,
    fitted: np.ndarray,
    points: dict[str, tuple[np.ndarray, np.ndarray]],
    feature: str,
    target: str,
    path: Path,
) -> Path:
    """`function_fit_figure` written to `path`."""
    return _save(function_fit_figure(grid, fitted, points, feature, target), path)


def unit_activations_figure(
    grid: np.ndarray, activations: Sequence[np.ndarray], names: Sequence[str], feature: str
) -> Any:
    """Each hidden unit's activation over the input range, one line per unit, a panel per layer.

    Units that output 0 over the whole range (dead ReLUs) are drawn in red.
    """
    fig, axes = _figure(len(activations), 1, (8, 3.2 * len(activations)))
    for ax, values, name in zip(axes[:, 0], activations, names, strict=True):
        units = values.shape[1]
        shown = np.linspace(0, units - 1, min(units, MAX_UNIT_LINES)).astype(int)
        dead = np.all(values <= 0.0, axis=0)
        for unit in np.unique(shown):
            ax.plot(grid, values[:, unit], color="crimson" if dead[unit] else None, linewidth=1, alpha=0.8)
        note = f", {len(np.unique(shown))} of {units} shown" if units > MAX_UNIT_LINES else ""
        ax.set_title(f"{name}: {units} units, {int(dead.sum())} dead over this range (red){note}", y=TITLE_Y)
        ax.set_ylabel("activation")
        ax.grid(True, alpha=0.3)
    axes[-1, 0].set_xlabel(feature)
    return finish(fig)


def unit_activations(
    grid: np.ndarray, activations: Sequence[np.ndarray], names: Sequence[str], feature: str, path: Path
) -> Path:
    """`unit_activations_figure` written to `path`."""
    return _save(unit_activations_figure(grid, activations, names, feature), path)


def safely(draw: Callable[[], Path | None], failures: list[str]) -> Path | None:
    """Draw one picture; a drawing problem is noted, never fatal to the run it illustrates."""
    try:
        return draw()
    except Exception as err:  # noqa: BLE001
        failures.append(f"{type(err).__name__}: {err}")
        return None


def draw(figure: str, args: tuple[Any, ...]) -> tuple[Path | None, str | None]:
    """`<figure>(*args)` of this module, pipeline.reports.class_plots or
    pipeline.reports.distribution_plots: the file drawn, or None and what went wrong."""
    failures: list[str] = []
    function = globals().get(figure) or getattr(class_plots, figure, None)
    function = function or getattr(distribution_plots, figure)
    path = safely(lambda: function(*args), failures)
    return path, (failures[0] if failures else None)


def _leave_signals_to_parent() -> None:
    """Ctrl-C and SIGTERM are the training process's to handle (it ends its run KILLED and
    then shuts the pool down); the worker only draws."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


@contextmanager
def drawing_pool() -> Iterator[Executor]:
    """Up to DRAWING_WORKERS worker processes that draw pictures with `draw`, each started
    when the work needs it and fresh (spawn: never a fork of a process that runs TensorFlow);
    shut down when the block ends."""
    pool = ProcessPoolExecutor(
        max_workers=DRAWING_WORKERS,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_leave_signals_to_parent,
    )
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
