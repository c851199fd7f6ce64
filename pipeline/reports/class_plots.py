"""The pictures of a classification run, as PNG files (matplotlib, non-interactive backend).

Pure functions of the data they draw: `<name>_figure` returns the figure laid out (for a test
to read back), `<name>` writes it to one file and returns its path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.reports.canvas import MARGINS_IN, TITLE_Y, finish
from pipeline.reports.canvas import figure as _figure
from pipeline.reports.canvas import save as _save

MAX_NUMBERED_CLASSES = 12  # confusion matrices with more classes than this have no numbers in their cells
ROTATE_LABELS_ABOVE = 4  # more classes than this: the predicted-class tick labels are slanted


def accuracy_of(matrix: np.ndarray) -> float:
    """The fraction of rows on the diagonal of a count matrix (trace / sum); NaN for an empty one."""
    total = float(np.sum(matrix))
    return float(np.trace(matrix)) / total if total > 0 else float("nan")


def confusion_title(part: str, matrix: np.ndarray) -> str:
    """`<part> set: accuracy X.XX% (n rows)`, from the count matrix."""
    return f"{part} set: accuracy {100 * accuracy_of(matrix):.2f}% ({int(np.sum(matrix))} rows)"


def _class_colours(k: int) -> list[Any]:
    """One distinct colour per class: tab10 up to 10 classes, tab20 up to 20, then turbo."""
    from matplotlib import colormaps

    if k <= 10:
        return [colormaps["tab10"](i) for i in range(k)]
    if k <= 20:
        return [colormaps["tab20"](i) for i in range(k)]
    return [colormaps["turbo"](i / (k - 1)) for i in range(k)]


def _width_in(texts: Sequence[str]) -> float:
    """The width, in inches, of the widest of `texts` as a tick label."""
    from matplotlib import rcParams
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    font = FontProperties(size=rcParams["xtick.labelsize"])
    measure = TextToPath().get_text_width_height_descent
    return max((measure(text, font, ismath=False)[0] / 72 for text in texts), default=0.0)


def _leave_room(ax: Any, left_in: float, bottom_in: float) -> None:
    """Draw `ax` in its grid slot less `left_in` inches on the left and `bottom_in` below (the
    slot as `_save` sets it, whose margins are fixed), leaving room for long tick labels."""
    from matplotlib.transforms import Bbox

    def locate(ax: Any, renderer: Any) -> Bbox:
        slot = ax.get_subplotspec().get_position(ax.figure)
        width, height = ax.figure.get_size_inches()
        return Bbox.from_extents(slot.x0 + left_in / width, slot.y0 + bottom_in / height, slot.x1, slot.y1)

    ax.set_axes_locator(locate)


def confusion_matrices_figure(matrices: dict[str, np.ndarray], classes: Sequence[str]) -> Any:
    """One panel per partition (in the order given): its count matrix, rows the actual class and
    columns the predicted one, with the count in each cell when there are at most
    MAX_NUMBERED_CLASSES classes, and the partition's accuracy and size in the title. The figure
    grows to fit the class names beside and below the matrices."""
    k = len(classes)
    numbered = min(k, MAX_NUMBERED_CLASSES)  # cells with a number are wider than those without
    side = max(3.8, 1.2 + 0.4 * numbered + 0.2 * (k - numbered))  # the matrix, in inches
    names = _width_in([str(c) for c in classes])
    below = 0.71 * names + 0.6 if k > ROTATE_LABELS_ABOVE else 0.6  # tick labels and axis label
    extra_left = max(0.0, names + 0.45 - MARGINS_IN["left"])
    extra_bottom = max(0.0, below - MARGINS_IN["bottom"])
    width, height = side + extra_left, side + extra_bottom  # each panel's slot
    n = len(matrices)
    fig, axes = _figure(
        1,
        n,
        (
            MARGINS_IN["left"] + MARGINS_IN["right"] + width * (n + 0.3 * (n - 1)),
            height + MARGINS_IN["top"] + MARGINS_IN["bottom"],
        ),
    )
    for ax, (part, matrix) in zip(axes[0], matrices.items(), strict=True):
        counts = np.asarray(matrix)
        image = ax.imshow(counts, cmap="Blues", vmin=0, vmax=max(int(counts.max(initial=0)), 1))
        _leave_room(ax, extra_left, extra_bottom)
        if k <= MAX_NUMBERED_CLASSES:
            dark = image.norm.vmax / 2
            for (row, col), count in np.ndenumerate(counts):
                ax.text(
                    col,
                    row,
                    f"{int(count)}",
                    ha="center",
                    va="center",
                    fontsize=9,
                    color="white" if count > dark else "black",
                )
        ax.set_xticks(range(k), labels=list(classes))
        ax.set_yticks(range(k), labels=list(classes))
        if k > ROTATE_LABELS_ABOVE:
            ax.tick_params(axis="x", labelrotation=45)
            for label in ax.get_xticklabels():
                label.set_horizontalalignment("right")
        ax.set_xlabel("predicted")
        ax.set_ylabel("actual")
        ax.set_title(confusion_title(part, counts), y=TITLE_Y)
    return finish(fig)


def confusion_matrices(matrices: dict[str, np.ndarray], classes: Sequence[str], path: Path) -> Path:
    """`confusion_matrices_figure` written to `path`."""
    return _save(confusion_matrices_figure(matrices, classes), path)


def roc_curves_figure(curves: dict[str, tuple[np.ndarray, np.ndarray, float]], positive: str) -> Any:
    """Binary tasks: each partition's ROC curve (false against true positive rate), its AUC in
    the legend, with the chance diagonal."""
    fig, axes = _figure(1, 1, (6.2, 5.6))
    ax = axes[0, 0]
    for part, (fpr, tpr, auc) in curves.items():
        ax.plot(fpr, tpr, linewidth=1.6, label=f"{part} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], color="gray", linestyle="--", linewidth=1, label="chance")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel(f"true positive rate (class {positive})")
    ax.set_title("ROC curve", y=TITLE_Y)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    return finish(fig)


def roc_curves(curves: dict[str, tuple[np.ndarray, np.ndarray, float]], positive: str, path: Path) -> Path:
    """`roc_curves_figure` written to `path`."""
    return _save(roc_curves_figure(curves, positive), path)


def decision_boundary_figure(
    xx: np.ndarray,
    yy: np.ndarray,
    predicted: np.ndarray,
    points: dict[str, tuple[np.ndarray, np.ndarray]],
    features: Sequence[str],
    classes: Sequence[str],
) -> Any:
    """For two-input data: the region of the plane given to each class (the predicted class on
    the `xx`, `yy` grid), with the train points (filled) and validation points (hollow)
    coloured by their actual class."""
    from matplotlib.lines import Line2D

    k = len(classes)
    colours = _class_colours(k)
    fig, axes = _figure(1, 1, (7.5, 6.2))
    ax = axes[0, 0]
    for index, colour in enumerate(colours):  # one class at a time: no sliver of a class in between
        region = (np.asarray(predicted) == index).astype(float)
        if region.any():
            ax.contourf(xx, yy, region, levels=[0.5, 1.5], colors=[colour], alpha=0.3)
    styles = {
        "train": {"s": 14, "alpha": 0.9, "linewidths": 0},
        "validation": {"s": 9, "alpha": 0.7, "linewidths": 0.8},
    }
    for part in ("train", "validation"):
        if part not in points:
            continue
        x, labels = points[part]
        colour = np.array(colours)[np.asarray(labels, dtype=int)].reshape(-1, 4)
        if part == "train":
            ax.scatter(x[:, 0], x[:, 1], c=colour, **styles[part])
        else:
            ax.scatter(x[:, 0], x[:, 1], facecolors="none", edgecolors=colour, **styles[part])
    handles = [
        Line2D([], [], marker="o", linestyle="", color=colours[i], label=name)
        for i, name in enumerate(classes)
    ]
    for part, filled in (("train", True), ("validation", False)):
        if part in points:
            handles.append(
                Line2D(
                    [],
                    [],
                    marker="o",
                    linestyle="",
                    color="gray",
                    markerfacecolor="gray" if filled else "none",
                    label=f"{part} points ({len(points[part][0])})",
                )
            )
    ax.set_xlim(float(np.min(xx)), float(np.max(xx)))
    ax.set_ylim(float(np.min(yy)), float(np.max(yy)))
    ax.set_xlabel(features[0])
    ax.set_ylabel(features[1])
    ax.set_title("Decision boundary (train and validation points)", y=TITLE_Y)
    ax.legend(handles=handles, fontsize=8, loc="best")
    return finish(fig)


def decision_boundary(
    xx: np.ndarray,
    yy: np.ndarray,
    predicted: np.ndarray,
    points: dict[str, tuple[np.ndarray, np.ndarray]],
    features: Sequence[str],
    classes: Sequence[str],
    path: Path,
) -> Path:
    """`decision_boundary_figure` written to `path`."""
    return _save(decision_boundary_figure(xx, yy, predicted, points, features, classes), path)
