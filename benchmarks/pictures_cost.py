"""Cost of a run's four pictures (learning curves, layer diagnostics, predicted vs actual,
residuals): the project's drawing (a kept figure per layout, reused), the same on a new
figure each time, and new figures saved as before: `tight_layout`, matplotlib's default
log-axis labels and PNG compression (docs/benchmarks.md).

    python benchmarks/pictures_cost.py [--repeats 5]

Run from the project root. Prints the mean seconds per set of four pictures, each way.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def history(epochs: int = 100) -> pd.DataFrame:
    """A 100-epoch history shaped like the lab network's (losses over two decades)."""
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "epoch": np.arange(1, epochs + 1),
            "train_loss": np.geomspace(3, 0.01, epochs) + rng.random(epochs) * 0.01,
            "val_loss": np.geomspace(3, 0.02, epochs),
            "diag/hidden_1/grad_norm": rng.random(epochs) * 10 + 0.1,
            "diag/output/grad_norm": rng.random(epochs) + 0.001,
            "diag/hidden_1/dead_fraction": rng.random(epochs),
        }
    )


def four_pictures(folder: Path) -> list[Callable[[], Any]]:
    from pipeline import plots

    rng = np.random.default_rng(1)
    frame = history()
    predictions = {
        part: pd.DataFrame({"actual": rng.random(100) * 1000, "predicted": rng.random(100) * 1000})
        for part in ("validation", "test")
    }
    return [
        lambda: plots.learning_curves(frame, folder / "learning_curves.png", 80, 70),
        lambda: plots.layer_diagnostics(frame, folder / "layer_diagnostics.png"),
        lambda: plots.predicted_vs_actual(
            predictions, "Total Interactions", folder / "predicted_vs_actual.png"
        ),
        lambda: plots.residuals(predictions, "Total Interactions", folder / "residuals.png"),
    ]


def seconds_per_set(draws: list[Callable[[], Any]], repeats: int) -> float:
    for draw in draws:  # warm: fonts, caches
        draw()
    started = time.perf_counter()
    for _ in range(repeats):
        for draw in draws:
            draw()
    return (time.perf_counter() - started) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from pipeline import plots

    def tight_layout_save(fig: Any, path: Path) -> Path:  # how pictures were saved before
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.tight_layout()
        fig.savefig(path)
        return path

    def on_new_figures(draws: list[Callable[[], Any]]) -> list[Callable[[], Any]]:
        return [lambda draw=draw: (plots.forget_figures(), draw()) for draw in draws]

    with tempfile.TemporaryDirectory() as folder:
        draws = four_pictures(Path(folder))
        project_save = plots._save
        now = seconds_per_set(draws, args.repeats)
        new_figures = seconds_per_set(on_new_figures(draws), args.repeats)
        plots._save = tight_layout_save
        before = seconds_per_set(on_new_figures(draws), args.repeats)
        plots._save = project_save
    print(
        f"four pictures, mean of {args.repeats}: project {now:.3f}s, on new figures {new_figures:.3f}s, "
        f"tight_layout on new figures as before {before:.3f}s"
    )
    print(f"ratios: project/new figures {now / new_figures:.2f}, project/before {now / before:.2f}")


if __name__ == "__main__":
    main()
