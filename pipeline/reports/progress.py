"""Where a run stands while it trains: on a terminal one line updated in place (tqdm), in a
notebook's kernel tqdm.auto's bar (a widget where ipywidgets exists, text otherwise), on a
pipe, a log file or a Ray worker plain lines at an interval, without control codes."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from tqdm import tqdm

from pipeline.core.config import TrainingConfig

REFRESH_S = 0.25  # a terminal's line is redrawn at most four times a second


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (IPython's ZMQ shell); never imports IPython."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def _losses(row: dict[str, float]) -> str:
    nan = float("nan")
    return f"train_loss {row.get('train_loss', nan):.4g}, val_loss {row.get('val_loss', nan):.4g}"


class EpochProgress:
    """Call with each epoch's history row. In a notebook's kernel (and no `stream` given),
    tqdm.auto's bar; on a terminal: `label: 40%|███ | 40/100 [00:03<00:04, train_loss 0.91,
    val_loss 0.95]`; elsewhere, at most every `interval_s` seconds, `label: epoch 40/100,
    train_loss 0.91, val_loss 0.95, 3.2 s elapsed, about 4.8 s left`. Disabled, it does
    nothing."""

    def __init__(
        self,
        total: int,
        label: str,
        stream: TextIO | None = None,
        interval_s: float = 10.0,
        enabled: bool = True,
    ) -> None:
        self.total, self.label, self.interval_s = total, label, interval_s
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.started = self.last_line = time.perf_counter()
        self.bar: tqdm | None = None
        if enabled and stream is None and in_notebook():  # the cell's output, not a terminal
            from tqdm.auto import tqdm as auto_tqdm

            self.bar = auto_tqdm(total=total, desc=label, unit="epoch", mininterval=REFRESH_S)
        elif enabled and self.stream.isatty():
            self.bar = tqdm(
                total=total,
                desc=label,
                unit="epoch",
                file=self.stream,
                mininterval=REFRESH_S,
                dynamic_ncols=True,
            )

    def __call__(self, row: dict[str, float]) -> None:
        if not self.enabled or row.get("epoch") == 0:  # epoch 0, the start: no epoch done yet
            return
        if self.bar is not None:
            self.bar.set_postfix_str(_losses(row), refresh=False)
            self.bar.update(1)
            return
        now = time.perf_counter()
        if now - self.last_line < self.interval_s:
            return
        self.last_line = now
        epoch = int(row.get("epoch", 0))
        elapsed = now - self.started
        left = elapsed / epoch * (self.total - epoch) if epoch else float("nan")
        print(
            f"{self.label}: epoch {epoch}/{self.total}, {_losses(row)}, "
            f"{elapsed:.1f} s elapsed, about {left:.1f} s left",
            file=self.stream,
            flush=True,
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


@contextmanager
def epoch_progress(
    training: TrainingConfig, label: str, stream: TextIO | None = None
) -> Iterator[EpochProgress]:
    """An EpochProgress for `training.epochs` epochs, as `training.progress` and
    `training.progress_interval_s` ask; its terminal line is closed however training ends."""
    progress = EpochProgress(
        training.epochs, label, stream, training.progress_interval_s, enabled=training.progress
    )
    try:
        yield progress
    finally:
        progress.close()
