"""What every picture shares: a pyplot-free matplotlib figure, fixed margins, PNG output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

DPI = 110


def figure(
    rows: int, cols: int, figsize: tuple[float, float], sharex: bool = False, layout: str | None = None
) -> tuple[Any, np.ndarray]:
    """A new figure of `rows` x `cols` axes (a 2-D array of them). Made without pyplot, which
    would keep every figure open until closed. `layout="constrained"`: matplotlib fits the
    margins to the labels instead of the fixed MARGINS_IN."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=DPI, layout=layout)
    return fig, fig.subplots(rows, cols, squeeze=False, sharex=sharex)


MARGINS_IN = {"left": 0.95, "right": 0.2, "top": 0.45, "bottom": 0.6}  # room for labels and titles
PNG_OPTIONS = {"compress_level": 1}  # zlib's fastest level: the same pixels, a slightly larger file
TITLE_Y = 1.0  # titles just above their axes (where matplotlib puts them, without measuring)


def plain_log_ticks(fig: Any) -> None:
    """Log-scale axes (x or y) get plain numbers (0.1, 0.2, 1, 10) instead of 10^x; where the axis
    spans less than about two decades, the ticks in between are labelled too (on y only)."""
    from matplotlib.ticker import LogFormatter, NullFormatter

    class PlainLogFormatter(LogFormatter):
        def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
            return f"{x:g}"

    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if axis.get_scale() == "log":
                axis.set_major_formatter(PlainLogFormatter())
                minor = PlainLogFormatter(minor_thresholds=(2, 0.5)) if axis is ax.yaxis else NullFormatter()
                axis.set_minor_formatter(minor)  # on x, labels between the decades would run together


def whole_epochs(ax: Any) -> None:
    """Ticks on `ax`'s x axis at whole numbers only (epochs, layers: no 0.5)."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def finish(fig: Any) -> Any:
    """Lay `fig` out with the fixed margins and plain log ticks, as `save` writes it, and
    return it: what a picture's `*_figure` function returns, for a test to read back."""
    width, height = fig.get_size_inches()
    if not fig.get_constrained_layout():
        fig.subplots_adjust(
            left=MARGINS_IN["left"] / width,
            right=1 - MARGINS_IN["right"] / width,
            top=1 - MARGINS_IN["top"] / height,
            bottom=MARGINS_IN["bottom"] / height,
            wspace=0.3,
            hspace=0.3,
        )
    plain_log_ticks(fig)
    return fig


def save(fig: Any, path: Path) -> Path:
    """Write `fig` to `path` (folders made), laid out by `finish`, and return `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    finish(fig)
    fig.savefig(path, pil_kwargs=PNG_OPTIONS)
    return path


def outside(fig: Any) -> list[str]:
    """The texts of `fig` drawn past its edge (titles, axis and tick labels, annotations,
    legends, colour bars), as `'text' (x0, y0, x1, y1)` in pixels; empty when all fit."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    texts = list(fig.texts)
    for ax in fig.axes:
        texts += [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.texts]
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            for minor in (False, True):
                pairs = zip(axis.get_ticklocs(minor=minor), axis.get_ticklabels(minor=minor), strict=False)
                texts += [label for at, label in pairs if low <= at <= high]  # the ticks drawn
        texts += ax.get_legend().get_texts() if ax.get_legend() else []
    page, found = fig.bbox, []
    for text in texts:
        if not text.get_visible() or not text.get_text().strip():
            continue
        box = text.get_window_extent(renderer)
        if min(box.x0 - page.x0, box.y0 - page.y0, page.x1 - box.x1, page.y1 - box.y1) < -0.5:
            found.append(f"{text.get_text()!r} ({box.x0:.0f}, {box.y0:.0f}, {box.x1:.0f}, {box.y1:.0f})")
    return found
