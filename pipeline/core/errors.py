"""The one exception type for problems a user causes, and the CLI wrapper that reports it."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable


class PipelineError(Exception):
    """Bad data or bad configuration: the message says what, where, and what would be valid."""


def interrupted(err: KeyboardInterrupt, closed: Iterable[str] = ()) -> str:
    """The one line an interrupt ends with: its cause, then each run it ended: the notes a run
    attaches to the interrupt as `killed_runs` (pipeline.tracking.recorder), then `closed`."""
    reason = str(err) or "Ctrl-C"
    runs = [*getattr(err, "killed_runs", []), *closed]
    return f"interrupted: {reason}" + "".join(f"; {run}" for run in runs)


def run_cli(main: Callable[[], object]) -> None:
    """Run an entry point; a PipelineError becomes one line on stderr and exit status 2,
    an interrupt one line and exit status 130."""
    try:
        main()
    except PipelineError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM during a run (tracking.recorder.Terminated)
        print(interrupted(err), file=sys.stderr)
        raise SystemExit(130) from None
