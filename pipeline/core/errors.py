"""The one exception type for problems a user causes, and the CLI wrapper that reports it."""

from __future__ import annotations

import sys
from collections.abc import Callable


class PipelineError(Exception):
    """Bad data or bad configuration: the message says what, where, and what would be valid."""


def run_cli(main: Callable[[], object]) -> None:
    """Run an entry point; a PipelineError becomes one line on stderr and exit status 2,
    an interrupt one line and exit status 130."""
    try:
        main()
    except PipelineError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM during a run (tracking.recorder.Terminated)
        reason = str(err) or "Ctrl-C"
        print(f"interrupted: {reason}; the MLflow run, if any, is marked KILLED", file=sys.stderr)
        raise SystemExit(130) from None
