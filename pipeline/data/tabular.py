"""Reading a delimited file with checks that turn common mistakes into one clear message.

A file that is not a text CSV (a spreadsheet, a compressed or binary file, text in another
encoding than UTF-8) is told apart by its first bytes or by where it stops decoding, and
named with what it seems to be."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from pipeline.core.errors import PipelineError
from pipeline.core.overrides import shell_override

LIKELY_SEPARATORS = (",", ";", "\t", "|")
SNIFFED_BYTES = 1 << 16  # how much of the start of a file tells text from binary
SAVE_AS_CSV = "save it as CSV (UTF-8) and point dataset.path at that file"
# the first bytes of formats people hand over instead of a CSV, and what to call them
MAGIC = (
    (b"PK\x03\x04", "a zip archive, such as an Excel .xlsx or OpenDocument .ods spreadsheet"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel .xls workbook (an OLE2 Office file)"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"BZh", "a bzip2-compressed file"),
    (b"\xfd7zXZ\x00", "an xz-compressed file"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"PAR1", "a Parquet file"),
    (b"ARROW1", "an Arrow/Feather file"),
    (b"\x89HDF", "an HDF5 file"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"%PDF-", "a PDF document"),
    (b"\x93NUMPY", "a NumPy .npy file"),
    (b"\xff\xfe", "UTF-16 text (Excel's 'Unicode Text')"),
    (b"\xfe\xff", "UTF-16 text"),
)


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


LOOK_LIKE_WORDS = (b"BZh", b"PAR1", b"ARROW1")  # magic numbers that could begin a header


def looks_like_text(rest: bytes) -> bool:
    """Whether the bytes after a word-like magic number go on as text would (a header such as
    `PAR1,PAR2,y`): printable ASCII up to the end of the line, at most 64 bytes of it."""
    line = rest[:64].split(b"\n", 1)[0].rstrip(b"\r")
    return all(32 <= b < 127 or b == 9 for b in line)


def what_binary(head: bytes) -> str | None:
    """What a file starting with `head` seems to be, when it is not plain text; else None."""
    for magic, name in MAGIC:
        if head.startswith(magic) and not (magic in LOOK_LIKE_WORDS and looks_like_text(head[len(magic) :])):
            return name
    if b"\x00" in head:
        return "a binary file (it holds NUL bytes)"
    return None


def check_text(path: Path, label: str) -> None:
    """Refuse a spreadsheet, an archive or another binary file by its first bytes."""
    with open(path, "rb") as handle:
        head = handle.read(SNIFFED_BYTES)
    seems = what_binary(head)
    if seems is not None:
        raise PipelineError(f"{label}: not a text CSV file: it seems to be {seems}; {SAVE_AS_CSV}")


def not_utf8(path: Path, label: str) -> PipelineError:
    """The error for a file that does not decode as UTF-8, naming the first line that does not."""
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as err:
                byte = line[err.start]
                return PipelineError(
                    f"{label}: line {number} is not UTF-8 text (byte 0x{byte:02x}): the file seems to be "
                    f"in another encoding, such as Windows-1252 or Latin-1; {SAVE_AS_CSV}"
                )
    return PipelineError(f"{label}: the file is not UTF-8 text; {SAVE_AS_CSV}")


def parse(path: Path, separator: str, label: str) -> pd.DataFrame:
    """The file as text and numbers; only an empty cell is blank ('n/a', 'NA', 'null' stay text,
    so a numeric column holding them is reported rather than its rows silently dropped)."""
    try:
        return pd.read_csv(path, sep=separator, keep_default_na=False, na_values=[""])
    except UnicodeDecodeError:
        raise not_utf8(path, label) from None
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
    """Read `path`; a missing, empty, header-only, too large, binary, non-UTF-8 or wrongly
    separated file, or a repeated column name, is a PipelineError naming `label` (default:
    the path)."""
    path = Path(path)
    label = label or str(path)
    if not path.is_file():
        raise PipelineError(f"{label}: file not found")
    refuse_if_too_large(path, label)
    check_text(path, label)
    check_separator(first_line(path), separator, label)
    frame = parse(path, separator, label)
    check_header(path, separator, label)
    if frame.empty:
        raise PipelineError(f"{label}: the file has a header but no data rows")
    return frame
