"""The one exception type for problems a user causes, and the CLI wrapper that reports it."""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Callable
from typing import NoReturn


class PipelineError(Exception):
    """Bad data or bad configuration: the message says what, where, and what would be valid."""


def run_cli(main: Callable[[], object]) -> None:
    """Run a stage entry point; a PipelineError becomes one line on stderr and exit status 2,
    an interrupt one line and exit status 130."""
    try:
        main()
    except PipelineError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM during a run (tracking.Terminated)
        print(f"interrupted: {err or 'Ctrl-C'}; the MLflow run, if any, is marked KILLED", file=sys.stderr)
        raise SystemExit(130) from None


def exit_now(code: object = 0) -> NoReturn:
    """End the process without the interpreter's teardown, which takes 1.2 to 1.5 s once
    TensorFlow is loaded (a sweep or a stage paid it at every exit; docs/benchmarks.md).
    The atexit handlers still run first (the recording helpers finish what they were sent,
    logging flushes), then the standard streams are flushed. With other non-daemon threads
    alive (a launcher's), the process exits the ordinary way, which joins them."""
    if code is None:
        code = 0
    elif not isinstance(code, int):  # SystemExit("message"): printed, status 1
        print(code, file=sys.stderr)
        code = 1
    others = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if others:
        raise SystemExit(code)
    atexit._run_exitfuncs()  # noqa: SLF001 - what the interpreter would run at exit
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def process_main(entry: Callable[[], object]) -> NoReturn:
    """`python -m pipeline.<module>`: run `entry`, then `exit_now` with its exit status.
    (Only at a process's entry: tests call `entry` itself and catch its SystemExit.)"""
    try:
        entry()
    except SystemExit as stop:
        exit_now(stop.code)
    exit_now(0)
