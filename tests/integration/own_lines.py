"""What a command may print on stderr: the project's own lines, and nothing of a library's."""

from __future__ import annotations

import re

# error:, warning:, note:, interrupted:, a sweep's and a stage's lines, progress (`train: epoch 3/10`)
OWN_LINE = re.compile(
    r"(error|warning|note|interrupted|sweep|ingest|normalize|split|train|evaluate|cv fold \d+/\d+): "
    r"|failed job \d+ "
)
DVC_FAILED = re.compile(r"ERROR: failed to reproduce ")  # DVC's own line after a stage's error
IMPORT_TIME = re.compile(r"import time: ")  # PYTHONPROFILEIMPORTTIME's lines


def foreign_lines(stderr: str) -> list[str]:
    """The lines of `stderr` that are not the project's (TensorFlow's, absl's, oneDNN's, a
    library's INFO line): empty when the command printed only its own. DVC's line after a
    stage's error and PYTHONPROFILEIMPORTTIME's lines are not counted."""
    allowed = (OWN_LINE, DVC_FAILED, IMPORT_TIME)
    return [line for line in stderr.splitlines() if line.strip() and not any(p.match(line) for p in allowed)]


def imported(stderr: str, module: str) -> bool:
    """Whether a process run with PYTHONPROFILEIMPORTTIME=1 imported `module` itself."""
    return re.search(rf"(?m)^import time: .*\|\s*{re.escape(module)}$", stderr) is not None
