"""Atomic file writes: a stage output is either complete or absent, never half-written."""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it onto `target` only on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Yield a temporary folder; it replaces `target` whole only on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# Significant digits of the floats in the git-tracked reports of the DVC stages. On another CPU
# oneDNN's kernels move the metrics by about 1e-8 relative and the per-epoch values and
# predictions (float32 network outputs) by up to about 5e-7: at these precisions the reports
# keep their bytes (README "Same inputs, same outputs"). MLflow keeps every value whole.
METRIC_DIGITS = 6  # metrics.json, headline.json
TABLE_DIGITS = 4  # history.csv, the predicted column of predictions.csv


def significant(data: Any, digits: int) -> Any:
    """`data` with every finite non-integer number, also inside dicts, lists and tuples (as
    lists), rounded to `digits` significant digits as a Python float; anything else as it is."""
    if isinstance(data, dict):
        return {key: significant(value, digits) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [significant(value, digits) for value in data]
    if isinstance(data, numbers.Real) and not isinstance(data, numbers.Integral) and math.isfinite(data):
        return float(f"{float(data):.{digits}g}")
    return data


def write_json(path: str | Path, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def md5_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """The hash DVC 3 records for a file output."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def write_with(path: str | Path, writer: Callable[[Path], None]) -> None:
    """Write `path` atomically through `writer(tmp_path)`."""
    with atomic_path(path) as tmp:
        writer(tmp)
