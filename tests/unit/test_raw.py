"""Ingest gives the same raw folder for the same data and config, wherever and whenever it runs."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.core.config import Config
from pipeline.core.errors import PipelineError
from pipeline.core.files import PROVENANCE_FILE, RAW_FILE
from pipeline.core.io import read_json, sha256_file
from pipeline.data.raw import ingest


def test_two_ingests_in_different_folders_at_different_times_are_identical(
    tmp_path: Path, make_config: Callable[..., Config]
) -> None:
    data = tmp_path / "houses.csv"
    data.write_text("x1,x2,y\n1,2,3\n4,5,6\n7,8,9\n", encoding="utf-8")
    cfg = make_config("dataset=csv", "dataset.path=houses.csv", "dataset.target=y")
    folders = []
    for clone in ("alice", "bob"):
        here = tmp_path / clone
        here.mkdir()
        (here / "houses.csv").write_bytes(data.read_bytes())
        cwd = Path.cwd()
        os.chdir(here)  # each person runs the stage from their own clone
        try:
            ingest(cfg.dataset, here / "downloads", here / "raw")
        finally:
            os.chdir(cwd)
        folders.append(here / "raw")
        time.sleep(1.1)  # a clock in the record would differ by now
    for name in (RAW_FILE, PROVENANCE_FILE):
        assert sha256_file(folders[0] / name) == sha256_file(folders[1] / name), name
    record = read_json(folders[0] / PROVENANCE_FILE)
    assert record["source"] == "houses.csv" and record["rows"] == 3


def test_a_spreadsheet_is_refused_naming_the_file_as_the_user_wrote_it(
    tmp_path: Path, make_config: Callable[..., Config], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sales.xlsx").write_bytes(b"PK\x03\x04" + bytes(60))  # a zip: what an .xlsx is
    cfg = make_config("dataset=csv", "dataset.path=sales.xlsx", "dataset.target=y")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PipelineError) as info:
        ingest(cfg.dataset, tmp_path / "downloads", tmp_path / "raw")
    assert str(info.value).startswith("sales.xlsx: not a text CSV file: it seems to be a zip archive")
    assert not (tmp_path / "raw").exists()  # nothing half-written
