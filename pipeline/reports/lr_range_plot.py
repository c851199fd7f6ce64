"""The learning-rate range test's picture: loss against learning rate, both on log axes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.model.lr_range import RangeTest
from pipeline.reports.canvas import TITLE_Y, figure, finish, save


def range_test_plot(result: RangeTest) -> Any:
    """Each batch's loss and the smoothed loss against its learning rate, the suggested rate
    and the rate where the loss exploded marked."""
    fig, axes = figure(1, 1, (8, 5))
    ax = axes[0, 0]
    ax.plot(result.rates, result.losses, color="0.7", linewidth=0.8, label="batch loss")
    ax.plot(result.rates, result.smoothed, linewidth=1.8, label="smoothed loss")
    if result.suggested is not None:
        label = f"suggested {result.suggested:.3g}"
        ax.axvline(result.suggested, color="green", linestyle="--", label=label)
    if result.exploded_at is not None:
        label = f"exploded at {result.exploded_at:.3g}"
        ax.axvline(result.exploded_at, color="crimson", linestyle=":", label=label)
    ax.set_xscale("log")
    if result.losses and min(result.losses) > 0:
        ax.set_yscale("log")
    ax.set_xlabel("learning rate (raised each batch)")
    ax.set_ylabel("training loss")
    ax.set_title("Learning-rate range test", y=TITLE_Y)
    ax.grid(True, alpha=0.3)
    ax.legend()
    return finish(fig)


def range_test_figure(result: RangeTest, path: Path) -> Path:
    """`range_test_plot` written to `path`."""
    return save(range_test_plot(result), path)
