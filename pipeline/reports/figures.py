"""Which pictures a run gets, drawn into a folder. A picture that cannot be drawn is a
warning on stderr, never a failure of the run it illustrates."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from pipeline.core.config import TrainingConfig
from pipeline.data.prepared import Prepared
from pipeline.model.metrics import SHOWN_PARTS
from pipeline.model.training import TrainResult, function_view, history_frame
from pipeline.reports import plots


def _draw(name: str, draw: Callable[[], Path | None], drawn: list[Path]) -> None:
    failures: list[str] = []
    path = plots.safely(draw, failures)
    for failure in failures:
        print(f"warning: picture {name} could not be drawn: {failure}", file=sys.stderr, flush=True)
    if path is not None:
        drawn.append(path)


def training_figures(
    result: TrainResult, prepared: Prepared, training: TrainingConfig, folder: Path
) -> list[Path]:
    """Learning curves, per-layer diagnostics and, for one-input data, the fitted function
    and the hidden units' activations; the files drawn."""
    drawn: list[Path] = []
    history = history_frame(result.history)
    _draw(
        "learning_curves",
        lambda: plots.learning_curves(
            history, folder / "learning_curves.png", result.stopped_epoch, result.best_epoch
        ),
        drawn,
    )
    _draw(
        "layer_diagnostics", lambda: plots.layer_diagnostics(history, folder / "layer_diagnostics.png"), drawn
    )
    if len(prepared.schema["encoded_features"]) != 1 or result.divergence is not None:
        return drawn
    view = function_view(result.model, prepared, training)
    feature, target = prepared.schema["encoded_features"][0], prepared.schema["target"]
    _draw(
        "function_fit",
        lambda: plots.function_fit(
            view["grid"], view["fitted"], view["points"], feature, target, folder / "function_fit.png"
        ),
        drawn,
    )
    if view["activations"]:
        _draw(
            "unit_activations",
            lambda: plots.unit_activations(
                view["grid"], view["activations"], view["names"], feature, folder / "unit_activations.png"
            ),
            drawn,
        )
    return drawn


def evaluation_figures(predictions: dict[str, pd.DataFrame], target: str, folder: Path) -> list[Path]:
    """Predicted against actual, and residuals, on the validation and test sets; the files drawn."""
    drawn: list[Path] = []
    shown = {p: predictions[p][["actual", "predicted"]] for p in SHOWN_PARTS if p in predictions}
    _draw(
        "predicted_vs_actual",
        lambda: plots.predicted_vs_actual(shown, target, folder / "predicted_vs_actual.png"),
        drawn,
    )
    _draw("residuals", lambda: plots.residuals(shown, target, folder / "residuals.png"), drawn)
    return drawn
