"""Reading a delimited file with checks that turn common mistakes into one clear message."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from pipeline.errors import PipelineError

LIKELY_SEPARATORS = (",", ";", "\t", "|")


MEMORY_PER_FILE_BYTE = 5  # pandas needs several times a CSV's size to parse and hold it


def available_memory() -> int | None:
    """Bytes of memory available now (Linux), or None where that cannot be told."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_fits_in_memory(path: Path, available: int | None) -> None:
    """Refuse, before reading it, a file that would not fit in memory once parsed."""
    size = path.stat().st_size
    if available is not None and size * MEMORY_PER_FILE_BYTE > available:
        raise PipelineError(
            f"{path}: {size / 2**30:.1f} GiB would need about {size * MEMORY_PER_FILE_BYTE / 2**30:.1f} GiB "
            f"of memory to load, but {available / 2**30:.1f} GiB is available; use a sample of the rows "
            "or a machine with more memory"
        )


def read_table(path: str | Path, separator: str) -> pd.DataFrame:
    """Read `path`; a missing, empty, too large or wrongly separated file is a PipelineError."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: file not found")
    check_fits_in_memory(path, available_memory())
    try:
        frame = pd.read_csv(path, sep=separator)
    except pd.errors.EmptyDataError:
        raise PipelineError(f"{path}: the file is empty") from None
    except pd.errors.ParserError as err:
        raise PipelineError(f"{path}: cannot parse with separator {separator!r}: {err}") from None
    if frame.shape[1] == 1:
        header = str(frame.columns[0])
        hint = next((s for s in LIKELY_SEPARATORS if s != separator and s in header), None)
        if hint is not None:
            raise PipelineError(
                f"{path}: the whole header landed in one column with separator {separator!r}; "
                f"the file looks {hint!r}-separated: set dataset.separator={hint!r}"
            )
    names = [str(n) for n in pd.read_csv(path, sep=separator, header=None, nrows=1).iloc[0]]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise PipelineError(f"{path}: the header repeats column names {repeated}")
    return frame
