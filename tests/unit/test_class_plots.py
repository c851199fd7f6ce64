"""The classification pictures (pipeline.reports.class_plots): each function writes a PNG that
reads back, of the expected proportions, with the titles and cell numbers it promises."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib import colormaps

from pipeline.reports import class_plots
from pipeline.reports.canvas import outside

THREE = np.array([[5, 1, 0], [2, 7, 1], [0, 0, 4]])  # 16 of 20 on the diagonal


def read_png(path: Path) -> np.ndarray:
    """The picture's pixels (height, width, channels), after checking it is a non-empty PNG."""
    import matplotlib.image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = matplotlib.image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 300 and pixels.shape[1] > 300
    return pixels


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The figures the module saves, kept for inspection (still written to their files)."""
    kept: list[Any] = []
    save = class_plots._save

    def keep(fig: Any, path: Path) -> Path:
        kept.append(fig)
        return save(fig, path)

    monkeypatch.setattr(class_plots, "_save", keep)
    return kept


def test_accuracy_is_the_diagonal_over_the_total() -> None:
    assert class_plots.accuracy_of(THREE) == pytest.approx(0.8)
    assert class_plots.accuracy_of(np.eye(2) * 3) == 1.0
    assert math.isnan(class_plots.accuracy_of(np.zeros((2, 2))))
    assert class_plots.confusion_title("test", THREE) == "test set: accuracy 80.00% (20 rows)"


def test_confusion_matrices_one_panel_per_partition_with_counts_and_accuracy(
    tmp_path: Path, figures: list[Any]
) -> None:
    classes = ["a", "b", "c"]
    one = tmp_path / "figures" / "one.png"  # the folder is made
    assert class_plots.confusion_matrices({"validation": THREE}, classes, one) == one
    two = tmp_path / "two.png"
    matrices = {"validation": THREE, "test": np.array([[1, 2, 0], [0, 3, 0], [0, 0, 0]])}
    assert class_plots.confusion_matrices(matrices, classes, two) == two
    single, double = read_png(one), read_png(two)
    assert double.shape[0] == single.shape[0]
    assert double.shape[1] > 1.8 * single.shape[1]

    axes = figures[1].axes
    assert [ax.get_title() for ax in axes[:2]] == [
        "validation set: accuracy 80.00% (20 rows)",
        "test set: accuracy 66.67% (6 rows)",
    ]
    cells = {(t.get_position(), t.get_text()): t.get_color() for t in axes[0].texts}
    assert len(cells) == 9
    assert cells[((1, 1), "7")] == "white" and cells[((1, 0), "1")] == "black"  # (x = column, y = row)
    assert [t.get_text() for t in axes[0].get_xticklabels()] == classes
    assert axes[0].get_xlabel() == "predicted" and axes[0].get_ylabel() == "actual"


def test_many_classes_have_slanted_labels_and_no_cell_numbers(tmp_path: Path, figures: list[Any]) -> None:
    rng = np.random.default_rng(0)
    five = rng.integers(0, 9, size=(5, 5))
    class_plots.confusion_matrices({"test": five}, list("vwxyz"), tmp_path / "five.png")
    assert len(figures[0].axes[0].texts) == 25
    assert figures[0].axes[0].get_xticklabels()[0].get_rotation() == 45
    thirteen = rng.integers(0, 9, size=(13, 13))
    class_plots.confusion_matrices({"test": thirteen}, [f"c{i}" for i in range(13)], tmp_path / "13.png")
    assert len(figures[1].axes[0].texts) == 0
    read_png(tmp_path / "13.png")


def inside(fig: Any) -> bool:
    """Whether every axes, with its tick labels, axis labels and title, lies within the figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    page = fig.bbox
    return all(
        box.x0 >= page.x0 and box.y0 >= page.y0 and box.x1 <= page.x1 and box.y1 <= page.y1
        for box in (ax.get_tightbbox(renderer) for ax in fig.axes)
    )


@pytest.mark.parametrize("names", [["a", "b"], ["setosa", "versicolor", "a rather long class name"]])
@pytest.mark.parametrize("k", [2, 6])
def test_class_names_fit_in_the_picture(tmp_path: Path, figures: list[Any], names: list[str], k: int) -> None:
    classes = [names[i % len(names)] + "_" * (i // len(names)) for i in range(k)]
    matrices = {"validation": np.eye(k, dtype=int) * 50, "test": np.ones((k, k), dtype=int)}
    class_plots.confusion_matrices(matrices, classes, tmp_path / "fit.png")
    assert inside(figures[0])


def test_roc_curves_with_two_partitions(tmp_path: Path, figures: list[Any]) -> None:
    curves = {
        "validation": (np.array([0, 0.1, 0.4, 1]), np.array([0, 0.7, 0.9, 1]), 0.8732),
        "test": (np.array([0, 0.2, 1]), np.array([0, 0.8, 1]), 0.8),
    }
    path = tmp_path / "roc.png"
    assert class_plots.roc_curves(curves, "yes", path) == path
    height, width = read_png(path).shape[:2]
    assert 1.0 < width / height < 1.2
    ax = figures[0].axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["validation (AUC 0.873)", "test (AUC 0.800)", "chance"]
    assert ax.get_ylabel() == "true positive rate (class yes)"
    assert ax.get_xlim() == (0, 1) and ax.get_ylim() == (0, 1)
    drawn = [(list(line.get_xdata()), list(line.get_ydata())) for line in ax.get_lines()[:2]]
    assert drawn == [(list(fpr), list(tpr)) for fpr, tpr, _ in curves.values()]
    assert outside(figures[0]) == []


def test_decision_boundary_with_three_classes(tmp_path: Path, figures: list[Any]) -> None:
    grid = np.linspace(-1, 1, 30)
    xx, yy = np.meshgrid(grid, grid)
    predicted = np.where(xx < -0.3, 0, np.where(yy < 0, 1, 2))
    rng = np.random.default_rng(1)
    points = {
        "train": (rng.uniform(-1, 1, size=(40, 2)), rng.integers(0, 3, size=40)),
        "validation": (rng.uniform(-1, 1, size=(10, 2)), rng.integers(0, 3, size=10)),
    }
    path = tmp_path / "boundary.png"
    result = class_plots.decision_boundary(xx, yy, predicted, points, ["x1", "x2"], ["a", "b", "c"], path)
    assert result == path
    height, width = read_png(path).shape[:2]
    assert width > height
    ax = figures[0].axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["a", "b", "c", "train points (40)", "validation points (10)"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x1", "x2")
    assert ax.get_title() == "Decision boundary (train and validation points)"
    train, validation = ax.collections[-2:]  # after the class regions
    assert np.allclose(train.get_offsets(), points["train"][0])
    palette = np.array([colormaps["tab10"](i)[:3] for i in range(3)])
    assert np.allclose(train.get_facecolor()[:, :3], palette[points["train"][1]])  # by actual class
    assert np.allclose(validation.get_edgecolor()[:, :3], palette[points["validation"][1]])
    assert ax.get_xlim() == (-1.0, 1.0)
    assert outside(figures[0]) == []


def test_decision_boundary_with_one_class_predicted_everywhere(tmp_path: Path) -> None:
    xx, yy = np.meshgrid(np.linspace(0, 1, 5), np.linspace(0, 1, 5))
    points = {"train": (np.array([[0.2, 0.3], [0.8, 0.9]]), np.array([0, 1]))}
    path = tmp_path / "flat.png"
    class_plots.decision_boundary(xx, yy, np.zeros((5, 5), dtype=int), points, ["p", "q"], ["n", "y"], path)
    read_png(path)


def test_no_figure_stays_open_in_pyplot(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    class_plots.roc_curves({"test": (np.array([0, 1]), np.array([0, 1]), 0.5)}, "1", tmp_path / "r.png")
    assert plt.get_fignums() == []
