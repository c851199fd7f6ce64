"""Progress while training: in place on a terminal, plain timed lines on a pipe, off on request."""

from __future__ import annotations

import io
import re

from pipeline.core.config import TrainingConfig
from pipeline.reports.progress import EpochProgress, epoch_progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def rows(n: int) -> list[dict[str, float]]:
    return [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 2.0 / e} for e in range(1, n + 1)]


def test_on_a_terminal_one_line_is_redrawn_with_epoch_losses_and_time() -> None:
    screen = Terminal()
    progress = EpochProgress(50, "train", screen)
    for row in rows(50):
        progress(row)
    progress.close()
    text = screen.getvalue()
    assert "\r" in text and "\n" not in text.rstrip("\n")  # redrawn in place, not scrolled
    last = text.rstrip("\n").split("\r")[-1]
    assert re.search(r"train: 100%.*50/50 \[\d\d:\d\d<00:00", last), last  # elapsed < remaining
    assert "train_loss 0.02, val_loss 0.04" in last
    assert text.count("\r") < 20  # at most a few redraws a second, not one per epoch


def test_on_a_pipe_plain_lines_at_the_interval_without_control_codes() -> None:
    pipe = io.StringIO()
    progress = EpochProgress(4, "cv fold 2/3", pipe, interval_s=0.0)
    for row in rows(4):
        progress(row)
    lines = pipe.getvalue().splitlines()
    assert "\r" not in pipe.getvalue() and "\x1b" not in pipe.getvalue()
    assert len(lines) == 4
    assert re.fullmatch(
        r"cv fold 2/3: epoch 2/4, train_loss 0\.5, val_loss 1, \d+\.\d s elapsed, about \d+\.\d s left",
        lines[1],
    )


def test_a_long_interval_keeps_a_short_run_quiet_on_a_pipe() -> None:
    pipe = io.StringIO()
    progress = EpochProgress(100, "train", pipe, interval_s=60.0)
    for row in rows(100):
        progress(row)
    assert pipe.getvalue() == ""


def test_progress_false_prints_nothing_even_on_a_terminal() -> None:
    screen = Terminal()
    training = TrainingConfig(epochs=5, batch_size=4, progress=False)
    with epoch_progress(training, "train", screen) as progress:
        for row in rows(5):
            progress(row)
    assert screen.getvalue() == ""
