"""What do a run's four pictures cost, drawn as the project draws them, against the earlier way?

    python benchmarks/pictures_cost.py [--repeats 5] [--json pictures_cost.json]

The four pictures (learning curves, layer diagnostics, predicted vs actual, residuals) as
`pipeline.reports.plots` saves them (fixed margins, plain log-axis labels, zlib level 1),
against the same figures saved as before: `tight_layout`, matplotlib's defaults
(docs/benchmarks.md). Prints the mean seconds per set of four pictures, each way, after
one untimed set each; the two ways alternate, one set at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from common import environment, parser, report, workspace


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
    from pipeline.reports import plots

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


def one_set(draws: list[Callable[[], Any]]) -> float:
    started = time.perf_counter()
    for draw in draws:
        draw()
    return time.perf_counter() - started


def main() -> None:
    args = parser(__doc__, repeats=5).parse_args()
    from pipeline.reports import plots

    def tight_layout_save(fig: Any, path: Path) -> Path:  # how pictures were saved before
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.tight_layout()
        fig.savefig(path)
        return path

    project_save = plots._save
    ways = {"project": project_save, "tight_layout": tight_layout_save}
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    with workspace(args) as ws:
        draws = four_pictures(ws.tmp / "pictures")
        try:
            for rep in range(args.repeats + 1):  # the first set of each way is the untimed warm-up
                for name, save in ways.items():
                    plots._save = save
                    elapsed = one_set(draws)
                    if rep:
                        seconds[name].append(elapsed)
        finally:
            plots._save = project_save
    mean = {name: sum(v) / len(v) for name, v in seconds.items()}
    results = {"environment": environment(), "repeats": args.repeats, "seconds": seconds, "mean_s": mean}
    results["project/tight_layout"] = mean["project"] / mean["tight_layout"]
    lines = [
        f"four pictures, mean of {args.repeats}: project {mean['project']:.3f}s, "
        f"tight_layout as before {mean['tight_layout']:.3f}s",
        f"ratio project/before: {results['project/tight_layout']:.2f}",
    ]
    report(results, lines, args.json)


if __name__ == "__main__":
    main()
