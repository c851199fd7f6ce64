"""Which pictures a run gets, and where they are drawn.

A `Drawer` draws each picture in its process pool when it has one (`plots.drawing_pool`,
owned by the entry point: matplotlib then works on another core while the run goes on;
the worker imports only pipeline.reports.plots), else at once. `Drawer.wait()` returns
the files drawn. A picture that cannot be drawn is a warning on stderr, never a failure
of the run it illustrates.
"""

from __future__ import annotations

import sys
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.core.config import TrainingConfig
from pipeline.data.prepared import Prepared
from pipeline.model.class_metrics import confusion, decision_grid, roc_curve
from pipeline.model.metrics import SHOWN_PARTS
from pipeline.model.training import TrainResult, function_view, history_frame
from pipeline.reports import plots
from pipeline.reports.distribution_plots import plotted


class Drawer:
    """A run's pictures: `draw` them as their data are ready, `wait` for the files."""

    def __init__(self, pool: Executor | None = None) -> None:
        self.pool = pool
        self._pending: list[
            tuple[str, Future[tuple[Path | None, str | None]] | tuple[Path | None, str | None]]
        ] = []

    def draw(self, figure: str, *args: Any) -> None:
        """Draw `figure` in the pool or, without one or when the pool takes no more work (its
        process died, or it was shut down), at once in this process."""
        outcome: Future[tuple[Path | None, str | None]] | tuple[Path | None, str | None] | None = None
        if self.pool is not None:
            try:
                outcome = self.pool.submit(plots.draw, figure, args)
            except RuntimeError:  # BrokenProcessPool is one; so is a pool already shut down
                self.pool = None
        self._pending.append((figure, outcome if outcome is not None else plots.draw(figure, args)))

    def wait(self) -> list[Path]:
        """The files drawn so far, in the order asked; failures are printed as warnings."""
        drawn: list[Path] = []
        pending, self._pending = self._pending, []
        for figure, outcome in pending:
            try:
                path, failure = outcome.result() if isinstance(outcome, Future) else outcome
            except Exception as err:  # noqa: BLE001 - the pool's process died: still only a picture
                path, failure = None, f"{type(err).__name__}: {err}"
            if failure is not None:
                print(f"warning: picture {figure} could not be drawn: {failure}", file=sys.stderr, flush=True)
            if path is not None:
                drawn.append(path)
        return drawn


    def drawn(self) -> list[Path]:
        """The files of the pictures already drawn, in the order asked; neither waits for the
        others nor warns about them (a sweep ended by Ctrl-C keeps what it has)."""
        files = []
        for _, outcome in self._pending:
            if isinstance(outcome, Future):
                if not outcome.done() or outcome.cancelled() or outcome.exception() is not None:
                    continue
                outcome = outcome.result()
            if outcome[0] is not None:
                files.append(outcome[0])
        return files


def training_figures(
    result: TrainResult, prepared: Prepared, training: TrainingConfig, folder: Path, drawer: Drawer
) -> None:
    """Learning curves, per-layer diagnostics and distributions (with diagnostics: the start,
    epoch 1 and the end in one picture) and, for one-input regression, the fitted function
    and the hidden units' activations; for two-input classification, the decision boundary."""
    history = history_frame(result.history)
    drawer.draw(
        "learning_curves", history, folder / "learning_curves.png", result.stopped_epoch, result.best_epoch
    )
    drawer.draw("layer_diagnostics", history, folder / "layer_diagnostics.png")
    if result.distributions:  # with diagnostics: the start, epoch 1, the end, in one picture
        moments = {moment: plotted(values) for moment, values in result.distributions.items()}
        drawer.draw("layer_distributions", moments, folder / "distributions.png")
    inputs = len(prepared.scaler["features"]["names"])
    if result.divergence is not None:
        return
    if prepared.task != "regression":
        if inputs == 2:
            grid = decision_grid(result.model, prepared, training)
            drawer.draw(
                "decision_boundary",
                grid["xx"],
                grid["yy"],
                grid["predicted"],
                grid["points"],
                grid["features"],
                prepared.classes,
                folder / "decision_boundary.png",
            )
        return
    if inputs != 1:
        return
    view = function_view(result.model, prepared, training)
    feature, target = prepared.schema["encoded_features"][0], prepared.schema["target"]
    drawer.draw(
        "function_fit",
        view["grid"],
        view["fitted"],
        view["points"],
        feature,
        target,
        folder / "function_fit.png",
    )
    if view["activations"]:
        drawer.draw(
            "unit_activations",
            view["grid"],
            view["activations"],
            view["names"],
            feature,
            folder / "unit_activations.png",
        )


def evaluation_figures(
    predictions: dict[str, pd.DataFrame],
    target: str,
    folder: Path,
    drawer: Drawer,
    classes: list[str] | None = None,
) -> None:
    """On the validation and test sets: predicted against actual, and residuals; for a
    classifier (`classes` given) the confusion matrices and, with two classes, the ROC curves."""
    if classes:
        shown_parts = [p for p in SHOWN_PARTS if p in predictions]
        matrices = {p: confusion(predictions[p], classes) for p in shown_parts}
        drawer.draw("confusion_matrices", matrices, classes, folder / "confusion_matrices.png")
        if len(classes) == 2:
            curves = {p: roc_curve(predictions[p], classes[1]) for p in shown_parts}
            drawer.draw("roc_curves", curves, classes[1], folder / "roc_curves.png")
        return
    shown = {p: predictions[p][["actual", "predicted"]] for p in SHOWN_PARTS if p in predictions}
    drawer.draw("predicted_vs_actual", shown, target, folder / "predicted_vs_actual.png")
    drawer.draw("residuals", shown, target, folder / "residuals.png")
