"""The Facebook data set's download path: a zip from a real HTTP server on 127.0.0.1,
the member extracted and verified against the configured sha256."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pipeline.core.errors import PipelineError
from pipeline.core.files import PROVENANCE_FILE, RAW_FILE
from pipeline.data.raw import ingest

ARCHIVE = "facebook+metrics.zip"
MEMBER = "dataset_Facebook.csv"


@dataclass
class ZipServer:
    base: str
    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"


@pytest.fixture
def zip_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ZipServer]:
    """An HTTP server on 127.0.0.1 (ephemeral port) serving in-memory files by name."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    state = ZipServer(base="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            state.requests.append(self.path)
            body = state.files.get(self.path.lstrip("/"))
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt: str, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def zipped(member: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", "Facebook metrics (test copy)\n")
        archive.writestr(member, content)
    return buffer.getvalue()


def download_config(make_config: Callable[..., Any], url: str) -> Any:
    return make_config("dataset=facebook", "dataset.path=null", f"dataset.url={url}")


def ingest_into(cfg: Any, raw_dir: Path) -> dict[str, Any]:
    """Ingest the configured data set into `raw_dir`, downloading into `paths.download_dir`."""
    return ingest(cfg.dataset, Path(cfg.paths.download_dir), raw_dir)


def test_ingest_downloads_extracts_and_verifies_the_archive(
    make_config: Callable[..., Any], facebook_csv: Path, zip_server: ZipServer, tmp_path: Path
) -> None:
    content = facebook_csv.read_bytes()
    zip_server.files[ARCHIVE] = zipped(MEMBER, content)
    cfg = download_config(make_config, zip_server.url(ARCHIVE))
    assert cfg.dataset.path is None and cfg.dataset.sha256
    raw_dir = Path(cfg.paths.raw_dir)

    record = ingest_into(cfg, raw_dir)

    raw_file = raw_dir / RAW_FILE
    assert hashlib.sha256(raw_file.read_bytes()).hexdigest() == cfg.dataset.sha256
    assert raw_file.read_bytes() == content
    provenance = json.loads((raw_dir / PROVENANCE_FILE).read_text())
    assert provenance == record
    assert provenance["source"] == zip_server.url(ARCHIVE)
    assert provenance["rows"] == 500
    header = content.decode("utf-8").splitlines()[0].split(";")
    assert provenance["columns"] == header
    assert provenance["sha256"] == cfg.dataset.sha256
    assert "sha256_expected" not in provenance
    assert zip_server.requests == [f"/{ARCHIVE}"]

    # A second ingest uses the verified download instead of fetching it again.
    again = ingest_into(cfg, raw_dir)
    assert again["sha256"] == cfg.dataset.sha256
    assert zip_server.requests == [f"/{ARCHIVE}"]


def test_corrupted_archive_member_fails_the_checksum_and_keeps_nothing(
    make_config: Callable[..., Any], facebook_csv: Path, zip_server: ZipServer, tmp_path: Path
) -> None:
    content = facebook_csv.read_bytes()
    corrupted = content.replace(b"139441;Photo", b"139442;Photo", 1)
    assert corrupted != content
    zip_server.files[ARCHIVE] = zipped(MEMBER, corrupted)
    cfg = download_config(make_config, zip_server.url(ARCHIVE))
    raw_dir = Path(cfg.paths.raw_dir)
    download_dir = Path(cfg.paths.download_dir)

    with pytest.raises(PipelineError, match="checksum") as caught:
        ingest_into(cfg, raw_dir)
    assert zip_server.url(ARCHIVE) in str(caught.value)

    assert not raw_dir.exists() or not any(raw_dir.iterdir())
    leftovers = [p.name for p in raw_dir.parent.iterdir() if p.name.startswith(f".{raw_dir.name}")]
    assert leftovers == [], leftovers
    kept = sorted(p.name for p in download_dir.rglob("*")) if download_dir.exists() else []
    assert kept == [], f"the unverified download was kept: {kept}"
