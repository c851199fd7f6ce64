"""Reading a delimited file with checks that turn common mistakes into one clear message."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from pipeline.core.errors import PipelineError
from pipeline.core.overrides import shell_override

LIKELY_SEPARATORS = (",", ";", "\t", "|")


MEMORY_PER_FILE_BYTE = 5  # pandas needs several times a CSV's size to parse and hold it


def available_memory() -> int | None:
    """Bytes of memory available now (Linux), or None where that cannot be told."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def human_size(size: float) -> str:
    """Bytes as the largest binary unit that keeps the number at 1 or more: 4096 -> '4.0 KiB'."""
    units = ("bytes", "KiB", "MiB", "GiB", "TiB")
    power = 0
    while size >= 1024 and power < len(units) - 1:
        size, power = size / 1024, power + 1
    return f"{size:.0f} bytes" if power == 0 else f"{size:.1f} {units[power]}"


def check_fits_in_memory(path: Path, available: int | None, label: str | None = None) -> None:
    """Refuse, before reading it, a file that would not fit in memory once parsed."""
    size = path.stat().st_size
    if available is not None and size * MEMORY_PER_FILE_BYTE > available:
        raise PipelineError(
            f"{label or path}: {human_size(size)} would need about {human_size(size * MEMORY_PER_FILE_BYTE)} "
            f"of memory to load, but {human_size(available)} is available; use a sample of the rows or a "
            "machine with more memory"
        )


def refuse_if_too_large(path: Path, label: str | None = None) -> None:
    """`check_fits_in_memory` against the memory available now."""
    check_fits_in_memory(path, available_memory(), label)


def parse(path: Path, separator: str, label: str) -> pd.DataFrame:
    """The file as text and numbers; only an empty cell is blank ('n/a', 'NA', 'null' stay text,
    so a numeric column holding them is reported rather than its rows silently dropped)."""
    try:
        return pd.read_csv(path, sep=separator, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:
        raise PipelineError(f"{label}: the file is empty") from None
    except pd.errors.ParserError as err:
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise PipelineError(f"{label}: cannot parse with separator {separator!r}: {detail}") from None


def first_line(path: Path, limit: int = 1 << 16) -> str:
    """The header line as text (at most `limit` bytes of it)."""
    with open(path, "rb") as handle:
        return handle.readline(limit).decode("utf-8", errors="replace").rstrip("\r\n")


def check_separator(header: str, separator: str, label: str) -> None:
    """A header without the configured separator but with another likely one names it
    (before parsing: a value like 1,5 would otherwise end in a tokenizer error instead)."""
    if separator in header:
        return
    hint = next((s for s in LIKELY_SEPARATORS if s != separator and s in header), None)
    if hint is not None:
        raise PipelineError(
            f"{label}: the whole header landed in one column with separator {separator!r}; "
            f"the file looks {hint!r}-separated: set {shell_override('dataset.separator', hint)}"
        )


def check_header(path: Path, separator: str, label: str) -> None:
    """Column names must be unique (pandas would silently rename a repeat `a` to `a.1`)."""
    names = [str(n) for n in pd.read_csv(path, sep=separator, header=None, nrows=1).iloc[0]]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise PipelineError(f"{label}: the header repeats column names {repeated}")


def read_table(path: str | Path, separator: str, label: str | None = None) -> pd.DataFrame:
    """Read `path`; a missing, empty, header-only, too large or wrongly separated file, or a
    repeated column name, is a PipelineError naming `label` (default: the path)."""
    path = Path(path)
    label = label or str(path)
    if not path.is_file():
        raise PipelineError(f"{label}: file not found")
    refuse_if_too_large(path, label)
    check_separator(first_line(path), separator, label)
    frame = parse(path, separator, label)
    check_header(path, separator, label)
    if frame.empty:
        raise PipelineError(f"{label}: the file has a header but no data rows")
    return frame
