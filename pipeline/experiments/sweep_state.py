"""A sweep's state, one object: its parent run, how many jobs it runs, the pictures its jobs
left to draw, the picture pool, and what to close when Ctrl-C ends it.

The CLI's sweep callback (pipeline.experiments.sweep) and `pipeline.api.sweep` both use a
`SweepState`. What must cross into another process travels as plain values: Hydra pickles
the callback into every launcher's worker (joblib, Ray), and the callback hands the parent's
id and the job count to the worker's state (`SweepState.join`). The Hydra task function has
no argument but its config, so the CLI keeps one state per process (`process_state()`), which
its entry point, its callback and its task function share; the API makes its own per sweep.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipeline.core.config import PathsConfig, TrackingConfig

if TYPE_CHECKING:
    from pipeline.reports.figures import Drawer


class LatePictures:
    """A sweep's per-run pictures still being drawn in the picture pool when their runs
    ended: `log()` waits for them and adds each to its run's `figures/` (at the sweep's end),
    so that drawing never holds up the next job."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, str, Drawer]] = []

    def add(self, uri: str, run_id: str, drawer: Drawer) -> None:
        self.runs.append((uri, run_id, drawer))

    def log(self, drawn_only: bool = False) -> int:
        """Wait for every picture (with `drawn_only`, take those already drawn) and log it
        into its run; the number logged. A picture the store does not take is a warning,
        never a failure of the sweep."""
        from pipeline.tracking.store import mlflow_client

        logged = 0
        runs, self.runs = self.runs, []
        for uri, run_id, drawer in runs:
            client = mlflow_client(uri)
            for picture in drawer.drawn() if drawn_only else drawer.wait():
                try:
                    client.log_artifact(run_id, str(picture), "figures")
                    logged += 1
                except Exception as err:  # noqa: BLE001 - the run's record stands without it
                    print(f"warning: picture {picture} not added to run {run_id}: {err}", file=sys.stderr)
        return logged


@dataclass
class SweepState:
    """One sweep as the process that runs its jobs sees it.

    `parent_run_id` and `jobs` are the plain values a job needs wherever it runs;
    `settings` (tracking, paths, the comparison's metric) and `parent_name` are the sweep
    process's, set when the parent run is created; `pool` draws pictures (None in a launcher's
    worker, which draws them at once), `late` holds the pictures the jobs left to draw, and
    `on_interrupt` what Ctrl-C or SIGTERM closes (each returns a note naming what it closed)."""

    parent_run_id: str | None = None
    jobs: int | None = None
    parent_name: str = ""
    settings: tuple[TrackingConfig, PathsConfig, str] | None = None
    pool: Executor | None = None
    late: LatePictures | None = None
    on_interrupt: dict[str, Callable[[], str | None]] = field(default_factory=dict)

    def join(
        self,
        parent_run_id: str | None,
        jobs: int | None,
        settings: tuple[TrackingConfig, PathsConfig, str] | None,
    ) -> None:
        """Take a sweep's plain values in the process that runs one of its jobs."""
        self.parent_run_id, self.jobs, self.settings = parent_run_id, jobs, settings

    def late_pictures(self) -> LatePictures | None:
        """Where a job leaves its pictures to be drawn: only with a pool to draw them in."""
        if self.pool is None:
            return None
        if self.late is None:
            self.late = LatePictures()
        return self.late

    def job_label(self, num: int) -> str:
        """`job 3/12` for the job numbered 2 (from 0); `job 3/?` when the count is unknown."""
        return f"job {num + 1}/{self.jobs if self.jobs is not None else '?'}"

    def log_late_pictures(self, drawn_only: bool = False) -> None:
        """Wait for the pictures the jobs left to draw (with `drawn_only`, take those already
        drawn) and add them to their runs."""
        if self.late is not None:
            self.late.log(drawn_only)

    def close_interrupted(self) -> list[str]:
        """Close what an interrupt leaves open (the parent run, KILLED); the notes of what
        was closed. A close that fails is one `error:` line, never a second traceback."""
        closed = []
        for close in list(self.on_interrupt.values()):
            try:
                note = close()
            except Exception as err:  # noqa: BLE001 - the store may be what failed
                print(f"error: could not close the sweep's parent run: {err}", file=sys.stderr)
                continue
            if note:
                closed.append(note)
        self.on_interrupt.clear()
        return closed

    def finish(self) -> None:
        """Forget the sweep (its pool stays: it belongs to whoever made the state)."""
        self.parent_run_id = self.jobs = self.settings = None
        self.parent_name = ""
        self.late = None
        self.on_interrupt.clear()


_PROCESS: list[SweepState] = []


def process_state() -> SweepState:
    """The state the CLI's entry point, sweep callback and task function share in this
    process (a launcher's worker has its own, filled by the callback's `on_job_start`)."""
    if not _PROCESS:
        _PROCESS.append(SweepState())
    return _PROCESS[0]
