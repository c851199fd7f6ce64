"""The one exception type for problems a user causes, and the CLI wrapper that reports it."""

from __future__ import annotations

import sys
from collections.abc import Callable


class PipelineError(Exception):
    """Bad data or bad configuration: the message says what, where, and what would be valid."""


def run_cli(main: Callable[[], object]) -> None:
    """Run a stage entry point; a PipelineError becomes one line on stderr and exit status 2."""
    try:
        main()
    except PipelineError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
