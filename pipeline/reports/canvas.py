"""What every picture shares: a pyplot-free matplotlib figure, fixed margins, PNG output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

DPI = 110


def figure(
    rows: int, cols: int, figsize: tuple[float, float], sharex: bool = False
) -> tuple[Any, np.ndarray]:
    """A new figure of `rows` x `cols` axes (a 2-D array of them). Made without pyplot, which
    would keep every figure open until closed."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=DPI)
    return fig, fig.subplots(rows, cols, squeeze=False, sharex=sharex)


MARGINS_IN = {"left": 0.95, "right": 0.2, "top": 0.45, "bottom": 0.6}  # room for labels and titles
PNG_OPTIONS = {"compress_level": 1}  # zlib's fastest level: the same pixels, a slightly larger file
TITLE_Y = 1.0  # titles just above their axes (where matplotlib puts them, without measuring)


def plain_log_ticks(fig: Any) -> None:
    """Log-scale axes get plain numbers (0.1, 0.2, 1, 10) instead of 10^x; where the axis
    spans less than about two decades, the ticks in between are labelled too."""
    from matplotlib.ticker import LogFormatter

    class PlainLogFormatter(LogFormatter):
        def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
            return f"{x:g}"

    for ax in fig.axes:
        if ax.get_yscale() == "log":
            ax.yaxis.set_major_formatter(PlainLogFormatter())
            ax.yaxis.set_minor_formatter(PlainLogFormatter(minor_thresholds=(2, 0.5)))


def save(fig: Any, path: Path) -> Path:
    """Write `fig` to `path` (folders made) with fixed margins, and return `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = fig.get_size_inches()
    fig.subplots_adjust(
        left=MARGINS_IN["left"] / width,
        right=1 - MARGINS_IN["right"] / width,
        top=1 - MARGINS_IN["top"] / height,
        bottom=MARGINS_IN["bottom"] / height,
        wspace=0.3,
        hspace=0.3,
    )
    plain_log_ticks(fig)
    fig.savefig(path, pil_kwargs=PNG_OPTIONS)
    return path
