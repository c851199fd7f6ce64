"""Data sources: verified downloads from a real local HTTP server, and the synthetic data set."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import socket
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pipeline.core.config import DatasetConfig, SyntheticConfig
from pipeline.core.errors import PipelineError
from pipeline.data.sources import download_verified, local_source, synthetic_frame

CSV = b"x,y\n1,2\n3,4\n5,6\n"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Server:
    base: str
    root: Path
    requests: list[str] = field(default_factory=list)

    def serve(self, name: str, content: bytes) -> str:
        (self.root / name).write_bytes(content)
        return f"{self.base}/{name}"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A real HTTP server on 127.0.0.1 (ephemeral port) serving files from a tmp folder."""
    root = tmp_path / "served"
    root.mkdir()
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            requests.append(self.path)

        def log_message(self, fmt: str, *args: Any) -> None:
            pass  # keep the test output quiet

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{httpd.server_address[1]}", root, requests)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dataset(url: str, **changes: Any) -> DatasetConfig:
    spec: dict[str, Any] = {"name": "csv", "url": url, "separator": ",", "target": "y"}
    return DatasetConfig(**(spec | changes))


def leftovers(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_plain_csv_download_is_verified(server: Server, tmp_path: Path) -> None:
    url = server.serve("data.csv", CSV)
    downloads = tmp_path / "downloads"
    path = download_verified(dataset(url, sha256=sha256(CSV)), downloads)
    assert path == downloads / "csv-data.csv"
    assert path.read_bytes() == CSV
    assert leftovers(downloads) == [path]  # no temporary file beside it
    assert pd.read_csv(path)["y"].tolist() == [2, 4, 6]


def test_a_verified_download_happens_once(server: Server, tmp_path: Path) -> None:
    url = server.serve("data.csv", CSV)
    spec = dataset(url, sha256=sha256(CSV))
    first = download_verified(spec, tmp_path / "downloads")
    second = download_verified(spec, tmp_path / "downloads")
    assert first == second
    assert server.requests == ["/data.csv"]


def test_a_corrupt_cached_copy_is_downloaded_again(server: Server, tmp_path: Path) -> None:
    url = server.serve("data.csv", CSV)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    (downloads / "csv-data.csv").write_bytes(b"x,y\n1,999\n")
    path = download_verified(dataset(url, sha256=sha256(CSV)), downloads)
    assert path.read_bytes() == CSV
    assert server.requests == ["/data.csv"]


def test_download_without_a_checksum_is_kept(server: Server, tmp_path: Path) -> None:
    url = server.serve("data.csv", CSV)
    path = download_verified(dataset(url), tmp_path / "downloads")
    assert path.read_bytes() == CSV


def test_zip_archive_member_is_extracted_and_verified(server: Server, tmp_path: Path) -> None:
    member = b"Type;like\nPhoto;79\nStatus;130\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("Facebook_metrics.txt", "readme")
        archive.writestr("dataset_Facebook.csv", member)
    url = server.serve("facebook+metrics.zip", buffer.getvalue())
    spec = dataset(
        url,
        name="facebook",
        separator=";",
        target="like",
        archive_member="dataset_Facebook.csv",
        sha256=sha256(member),
    )
    downloads = tmp_path / "downloads"
    path = download_verified(spec, downloads)
    assert path == downloads / "facebook-dataset_Facebook.csv"
    assert path.read_bytes() == member
    assert leftovers(downloads) == [path]


def test_missing_archive_member(server: Server, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("other.csv", CSV)
    url = server.serve("bundle.zip", buffer.getvalue())
    with pytest.raises(PipelineError, match=r"no member 'data\.csv'"):
        download_verified(dataset(url, archive_member="data.csv"), tmp_path / "downloads")
    assert leftovers(tmp_path / "downloads") == []


def test_archive_member_of_a_file_that_is_not_a_zip(server: Server, tmp_path: Path) -> None:
    url = server.serve("data.zip", CSV)
    with pytest.raises(PipelineError, match="not a zip archive"):
        download_verified(dataset(url, archive_member="data.csv"), tmp_path / "downloads")


def test_checksum_mismatch_keeps_no_file(server: Server, tmp_path: Path) -> None:
    url = server.serve("data.csv", CSV)
    expected = sha256(b"something else")
    downloads = tmp_path / "downloads"
    with pytest.raises(PipelineError) as info:
        download_verified(dataset(url, sha256=expected), downloads)
    message = str(info.value)
    assert "checksum mismatch" in message
    assert url in message
    assert expected in message and sha256(CSV) in message
    assert leftovers(downloads) == []


def test_unreachable_url_names_the_url(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/data.csv"
    with pytest.raises(PipelineError) as info:
        download_verified(dataset(url), tmp_path / "downloads")
    message = str(info.value)
    assert url in message
    assert "dataset.path" in message
    assert leftovers(tmp_path / "downloads") == []


def test_http_error_names_the_url(server: Server, tmp_path: Path) -> None:
    url = f"{server.base}/missing.csv"
    with pytest.raises(PipelineError, match="download of .*missing.csv failed") as info:
        download_verified(dataset(url), tmp_path / "downloads")
    assert url in str(info.value)


def test_local_source_prefers_the_local_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_bytes(CSV)
    spec = dataset(f"http://127.0.0.1:{closed_port()}/x.csv", path=str(path))
    assert local_source(spec, tmp_path / "downloads") == path


def test_local_source_with_a_missing_path(tmp_path: Path) -> None:
    spec = dataset(None, path=str(tmp_path / "nope.csv"))
    with pytest.raises(PipelineError, match=r"dataset\.path: .*nope\.csv does not exist"):
        local_source(spec, tmp_path / "downloads")


def test_local_source_downloads_when_no_path(server: Server, tmp_path: Path) -> None:
    url = server.serve("data.csv", CSV)
    path = local_source(dataset(url, sha256=sha256(CSV)), tmp_path / "downloads")
    assert path.read_bytes() == CSV


def test_synthetic_frame_is_deterministic_for_a_seed() -> None:
    spec = SyntheticConfig(n_samples=50, noise=0.3, seed=0)
    first, again = synthetic_frame(spec), synthetic_frame(spec)
    pd.testing.assert_frame_equal(first, again)
    assert list(first.columns) == ["x", "y"]
    assert len(first) == 50
    assert first["x"].between(0.0, 1.0).all()
    other = synthetic_frame(SyntheticConfig(n_samples=50, noise=0.3, seed=1))
    assert not first.equals(other)


def test_synthetic_frame_without_noise_is_the_sine() -> None:
    frame = synthetic_frame(SyntheticConfig(n_samples=20, noise=0.0, seed=3))
    assert frame["y"].to_numpy() == pytest.approx(np.sin(2 * np.pi * frame["x"].to_numpy()))
