"""Shared fixtures: every test gets its own MLflow store and shrunk configs with tmp paths."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from shared_data import FACEBOOK_CSV, HOUSING_CSV, ROOT
from team_server import TeamServer, start_postgres, start_team_server

from pipeline.core.config import Config
from pipeline.experiments.compose import compose_config


@pytest.fixture(autouse=True)
def isolated_tracking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private SQLite MLflow store per test; no telemetry; fails a test that leaves a run open."""
    uri = f"sqlite:///{tmp_path / 'mlruns.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    yield uri
    import mlflow

    active = mlflow.active_run()
    if active is not None:
        mlflow.end_run()
        pytest.fail(f"the test left MLflow run {active.info.run_id} active")


def paste_into_bash(text: str) -> list[str]:
    """The arguments bash hands a command when `text` is pasted after its name."""
    done = subprocess.run(
        ["bash", "-c", f"printf '%s\\0' {text}"], capture_output=True, text=True, check=True
    )
    return done.stdout.split("\0")[:-1]


@pytest.fixture
def bash_words() -> Callable[[str], list[str]]:
    """paste_into_bash, for tests."""
    return paste_into_bash


@pytest.fixture
def pasted_override() -> Callable[[str], tuple[str, object]]:
    """Paste a printed override into bash, hand what bash passes on to Hydra's override
    parser: the (key, value) Hydra reads, or the parser's error."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    def parse(hint: str) -> tuple[str, object]:
        words = paste_into_bash(hint)
        assert len(words) == 1, f"bash split {hint!r} into {words}"
        override = OverridesParser.create().parse_override(words[0])
        return override.key_or_group, override.value()

    return parse


def default_paths() -> dict[str, str]:
    """conf/paths/default.yaml: every path the project writes, relative to its root."""
    return yaml.safe_load((ROOT / "conf" / "paths" / "default.yaml").read_text(encoding="utf-8"))


def tmp_paths(tmp_path: Path) -> list[str]:
    """Overrides that point every configured path into `tmp_path`."""
    return [f"paths.{key}={tmp_path / value}" for key, value in default_paths().items()]


@pytest.fixture
def path_overrides(tmp_path: Path) -> list[str]:
    """`paths.*=...` overrides for a subprocess, every path inside tmp_path."""
    return tmp_paths(tmp_path)


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Config]:
    """Compose the real conf/ with overrides, shrunk (5 epochs) and with paths in tmp_path."""

    def make(*overrides: str) -> Config:
        return compose_config(
            ["training.epochs=5", *tmp_paths(tmp_path), *overrides], config_dir=ROOT / "conf"
        )

    return make


@pytest.fixture
def facebook_csv() -> Path:
    if not FACEBOOK_CSV.is_file():
        pytest.skip(f"{FACEBOOK_CSV} not present (the shared data sets live beside the repo)")
    return FACEBOOK_CSV


@pytest.fixture
def housing_csv() -> Path:
    if not HOUSING_CSV.is_file():
        pytest.skip(f"{HOUSING_CSV} not present (the shared data sets live beside the repo)")
    return HOUSING_CSV


@pytest.fixture
def free_port() -> Callable[[], int]:
    """A function giving a port on 127.0.0.1 that is free now."""

    def pick() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    return pick


@pytest.fixture
def local_server(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Start a server command on 127.0.0.1 and wait for `health_path`; every server started
    is stopped (SIGTERM, then SIGKILL) when the test ends. Returns the base URL. The server's
    output goes to a file: an unread pipe fills up and blocks a busy server."""
    started: list[subprocess.Popen[bytes]] = []

    def start(
        command: list[str], port: int, health_path: str, env: dict[str, str], cwd: Path | None = None
    ) -> str:
        bin_dir = os.path.dirname(sys.executable)  # servers run uvicorn etc. from the environment
        path = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
        env = {**env, "PATH": path, "MLFLOW_DISABLE_TELEMETRY": "true"}
        log = tmp_path / f"server-{port}.log"
        with open(log, "wb") as out:
            server = subprocess.Popen(
                command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        started.append(server)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}{health_path}", timeout=2):
                    return url
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"{' '.join(command[:4])} did not start: {log.read_text()[-2000:]}")
                time.sleep(0.5)

    yield start
    for server in started:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


@pytest.fixture
def tracking_server(tmp_path: Path, local_server: Callable[..., str], free_port: Callable[[], int]):
    """A real `mlflow server` on 127.0.0.1 (SQLite backend) serving the artifacts it stores,
    so clients need no shared folder. Returns its URL and the server's artifact folder."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        f"sqlite:///{tmp_path / 'server.db'}",
        "--artifacts-destination",
        str(tmp_path / "server-artifacts"),
        "--serve-artifacts",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "2",
    ]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return local_server(command, port, "/health", env, cwd=tmp_path), tmp_path / "server-artifacts"


@pytest.fixture(scope="module")
def team_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TeamServer]:
    """A team's tracking server, shared by a module's tests: PostgreSQL (a throwaway cluster,
    Debian's `postgresql`), `mlflow server --app-name basic-auth --serve-artifacts` on it,
    and a team member's account (`server.credentials()` gives the member's environment)."""

    def pick() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    postgres = start_postgres(pick())
    server = None
    try:
        server = start_team_server(postgres, tmp_path_factory.mktemp("team"), pick())
        yield server
    finally:
        if server is not None:
            server.stop()
        postgres.stop()
        shutil.rmtree(postgres.folder, ignore_errors=True)
