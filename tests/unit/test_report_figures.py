"""Which pictures a run gets and where they are drawn (pipeline.reports.figures): a picture
that cannot be drawn is a warning, never a failure of the run it illustrates."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.reports.figures import Drawer, evaluation_figures
from pipeline.reports.plots import drawing_pool

HISTORY = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [3.0, 2.0, 1.0], "val_loss": [3.5, 2.5, 2.0]})


def is_png(path: Path) -> bool:
    return path.read_bytes()[:4] == b"\x89PNG"


def draw_good_and_bad(drawer: Drawer, folder: Path) -> list[Path]:
    drawer.draw("learning_curves", HISTORY, folder / "learning_curves.png")
    drawer.draw("learning_curves", None, folder / "broken.png")  # not a history: TypeError
    return drawer.wait()


@pytest.mark.parametrize("in_a_pool", [False, True], ids=["at-once", "process-pool"])
def test_a_failed_picture_is_a_warning_and_the_others_are_drawn(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], in_a_pool: bool
) -> None:
    if in_a_pool:
        with drawing_pool() as pool:
            drawn = draw_good_and_bad(Drawer(pool), tmp_path)
    else:
        drawn = draw_good_and_bad(Drawer(), tmp_path)
    assert drawn == [tmp_path / "learning_curves.png"]
    assert is_png(drawn[0]) and not (tmp_path / "broken.png").exists()
    err = capsys.readouterr().err
    assert "warning: picture learning_curves could not be drawn: TypeError" in err
    assert Drawer().wait() == []


def test_evaluation_pictures_show_validation_and_test(tmp_path: Path) -> None:
    rows = pd.DataFrame({"actual": [1.0, 2.0, 3.0], "predicted": [1.5, 2.0, 2.5], "extra": 0})
    drawer = Drawer()
    evaluation_figures({"train": rows, "validation": rows, "test": rows}, "y", tmp_path, drawer)
    drawn = drawer.wait()
    assert drawn == [tmp_path / "predicted_vs_actual.png", tmp_path / "residuals.png"]
    assert all(is_png(path) for path in drawn)


def test_a_pool_that_takes_no_more_work_leaves_the_pictures_to_this_process(tmp_path: Path) -> None:
    """A pool shut down (or broken: its process died) does not fail the run: the picture is
    drawn at once instead."""
    with drawing_pool() as pool:
        pass
    drawer = Drawer(pool)
    drawer.draw("learning_curves", HISTORY, tmp_path / "learning_curves.png")
    assert drawer.wait() == [tmp_path / "learning_curves.png"]
    assert is_png(tmp_path / "learning_curves.png")
