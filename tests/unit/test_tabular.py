"""read_table: common file mistakes become one clear PipelineError."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.core.errors import PipelineError
from pipeline.data.tabular import read_table


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_a_well_formed_file(tmp_path: Path) -> None:
    frame = read_table(write(tmp_path, "a;b;Type\n1;2.5;Photo\n3;4;Status\n"), ";")
    assert list(frame.columns) == ["a", "b", "Type"]
    assert frame["a"].tolist() == [1, 3]
    assert frame["Type"].tolist() == ["Photo", "Status"]


@pytest.mark.parametrize(("actual", "configured"), [(";", ","), ("\t", ","), ("|", ","), (",", ";")])
def test_wrong_separator_suggests_the_right_one(
    tmp_path: Path, actual: str, configured: str, pasted_override: Callable[[str], tuple[str, object]]
) -> None:
    text = actual.join(["Page total likes", "Type", "like"]) + "\n"
    text += actual.join(["139441", "Photo", "79"]) + "\n"
    with pytest.raises(PipelineError) as info:
        read_table(write(tmp_path, text), configured)
    message = str(info.value)
    assert "data.csv" in message
    hint = message.split("set ", 1)[1]
    assert pasted_override(hint) == ("dataset.separator", actual)  # as printed, through bash


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match="empty"):
        read_table(write(tmp_path, ""), ",")


def test_repeated_header_names_are_named(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b,a,c,b\n1,2,3,4,5\n")
    with pytest.raises(PipelineError, match=r"repeats column names \['a', 'b'\]"):
        read_table(path, ",")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    with pytest.raises(PipelineError, match="not found") as info:
        read_table(path, ",")
    assert str(path) in str(info.value)


def test_a_folder_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match="not found"):
        read_table(tmp_path, ",")


def test_single_column_file_is_fine(tmp_path: Path) -> None:
    frame = read_table(write(tmp_path, "y\n1\n2\n"), ",")
    assert frame["y"].tolist() == [1, 2]


def test_a_file_too_large_for_memory_is_refused_before_it_is_read(tmp_path, monkeypatch):
    from pipeline.data import tabular

    path = tmp_path / "big.csv"
    path.write_text("a,b\n" + "1,2\n" * 1000)
    monkeypatch.setattr(tabular, "available_memory", lambda: 1000)  # bytes
    monkeypatch.setattr(tabular.pd, "read_csv", lambda *a, **k: pytest.fail("the file was read"))
    with pytest.raises(PipelineError) as failure:
        tabular.read_table(path, ",")
    assert "big.csv" in str(failure.value) and "available" in str(failure.value)


def test_a_file_that_fits_is_read(tmp_path):
    from pipeline.data import tabular

    path = tmp_path / "small.csv"
    path.write_text("a,b\n1,2\n")
    assert tabular.available_memory() is None or tabular.available_memory() > 0
    assert tabular.read_table(path, ",").shape == (1, 2)


def test_header_only_file_says_there_are_no_rows(tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match=r"data\.csv: the file has a header but no data rows$"):
        read_table(write(tmp_path, "a,b,y\n"), ",")


def test_only_an_empty_cell_is_blank(tmp_path: Path) -> None:
    frame = read_table(write(tmp_path, "a,b,y\nn/a,,1\nNA,2,null\n"), ",")
    assert frame["a"].tolist() == ["n/a", "NA"]  # text, for the schema to report
    assert frame["y"].tolist() == ["1", "null"]
    assert frame["b"].isna().tolist() == [True, False]


def test_messages_name_the_label_instead_of_the_path(tmp_path: Path) -> None:
    path = write(tmp_path, "a;b\n1;2\n")
    with pytest.raises(PipelineError, match=r"^/data/houses\.csv: the whole header landed in one column"):
        read_table(path, ",", label="/data/houses.csv")


@pytest.mark.parametrize(
    ("size", "text"), [(0, "0 bytes"), (1023, "1023 bytes"), (4096, "4.0 KiB"), (3 * 2**30 // 2, "1.5 GiB")]
)
def test_sizes_read_in_the_unit_that_fits(size: int, text: str) -> None:
    from pipeline.data.tabular import human_size

    assert human_size(size) == text


def test_a_decimal_comma_in_a_semicolon_file_still_gets_the_separator_hint(tmp_path: Path) -> None:
    path = write(tmp_path, "rooms;area;price\n3;70.5;210000\n4;1,5;250000\n")
    with pytest.raises(PipelineError) as info:
        read_table(path, ",")
    assert "set 'dataset.separator=\";\"'" in str(info.value) and "\n" not in str(info.value)


def test_a_parser_error_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b\n1,2\n3,4,5\n")
    with pytest.raises(PipelineError) as info:
        read_table(path, ",")
    message = str(info.value)
    assert message.startswith(f"{path}: cannot parse with separator ','") and "line 3" in message
    assert "\n" not in message


def zipped(tmp_path: Path) -> bytes:
    import zipfile

    archive = tmp_path / "book.zip"
    with zipfile.ZipFile(archive, "w") as book:
        book.writestr("xl/workbook.xml", "<workbook/>")
    return archive.read_bytes()


@pytest.mark.parametrize(
    ("content", "seems"),
    [
        (zipped, "a zip archive, such as an Excel .xlsx or OpenDocument .ods spreadsheet"),
        (lambda _: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504), "an old Excel .xls workbook"),
        (lambda _: __import__("gzip").compress(b"a,y\n1,2\n"), "a gzip-compressed file"),
        (lambda _: b"PAR1\x15\x04\x15\x10" + bytes(40) + b"PAR1", "a Parquet file"),
        (lambda _: b"a,y\n1,\x00\x00\x002\n", "a binary file (it holds NUL bytes)"),
    ],
    ids=["xlsx", "xls", "gzip", "parquet", "binary"],
)
def test_a_file_that_is_not_a_text_csv_says_what_it_seems_to_be(
    tmp_path: Path, content: Callable[[Path], bytes], seems: str
) -> None:
    path = tmp_path / "sales.csv"
    path.write_bytes(content(tmp_path))
    with pytest.raises(PipelineError) as info:
        read_table(path, ",", label="sales.csv")
    message = str(info.value)
    assert message.startswith(f"sales.csv: not a text CSV file: it seems to be {seems}")
    assert message.endswith("save it as CSV (UTF-8) and point dataset.path at that file")


def test_text_in_another_encoding_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "cities.csv"
    path.write_bytes("city,y\nBerlin,1\nMünchen,2\n".encode("latin-1"))
    with pytest.raises(PipelineError) as info:
        read_table(path, ",", label="cities.csv")
    assert str(info.value).startswith("cities.csv: line 3 is not UTF-8 text (byte 0xfc)")


def test_a_header_that_begins_like_a_magic_number_is_still_text(tmp_path: Path) -> None:
    frame = read_table(write(tmp_path, "PAR1,BZh9,y\n1,2,3\n"), ",")
    assert list(frame.columns) == ["PAR1", "BZh9", "y"]
