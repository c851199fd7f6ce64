"""A team's tracking server for the tests: a throwaway PostgreSQL cluster (Debian's
`postgresql` package, run as an unprivileged user when the tests run as root) and
`mlflow server` on it with basic authentication, serving the artifacts; all on 127.0.0.1.

Imported by tests/conftest.py, which turns these into fixtures.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from base64 import b64encode
from dataclasses import dataclass, field
from pathlib import Path

POSTGRES_USER = "mlflow"
ADMIN = "admin"
MEMBER = "alice"  # the team member whose credentials the runs use


def postgres_bin(name: str) -> str | None:
    """A PostgreSQL program on PATH, else from Debian's versioned folder (not on PATH)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def unprivileged_user() -> str | None:
    """The user PostgreSQL runs as: None when the tests are not root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root, and there is no 'postgres' or 'nobody' user to run PostgreSQL")


@dataclass
class Postgres:
    """A PostgreSQL cluster of its own in `folder`, listening on 127.0.0.1:`port` only."""

    folder: Path
    port: int
    user: str | None = field(default_factory=unprivileged_user)

    def _run(self, program: str, *args: str, timeout: float = 120) -> None:
        binary = postgres_bin(program)
        if binary is None:
            raise RuntimeError(f"{program} not found: apt-get install postgresql (.ci/run does)")
        command = [binary, *args]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.folder)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed: {done.stdout[-1500:]} {done.stderr[-1500:]}")

    def start(self) -> None:
        data = self.folder / "data"
        if not data.exists():
            if self.user:
                user = pwd.getpwnam(self.user)
                os.chown(self.folder, user.pw_uid, user.pw_gid)
            self._run("initdb", "-D", str(data), "-U", POSTGRES_USER, "--auth=trust", "-E", "UTF8")
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder}"
        log = str(self.folder / "postgres.log")
        self._run("pg_ctl", "-D", str(data), "-o", options, "-l", log, "-w", "start")

    def create_database(self, name: str) -> None:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", POSTGRES_USER, name)

    def uri(self, database: str) -> str:
        return f"postgresql://{POSTGRES_USER}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if (self.folder / "data" / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop")


def start_postgres(port: int) -> Postgres:
    """A new cluster in a folder of its own (not under pytest's root-only tmp folder)."""
    cluster = Postgres(Path(tempfile.mkdtemp(prefix="pg-")), port)
    cluster.start()
    return cluster


@dataclass
class TeamServer:
    """`mlflow server` on PostgreSQL with `--app-name basic-auth`; `stop()` and `start()`
    restart it on the same port, database and artifact folder."""

    postgres: Postgres
    folder: Path
    port: int
    member_password: str = field(default_factory=lambda: f"pw-{secrets.token_hex(8)}")
    admin_password: str = field(default_factory=lambda: f"admin-{secrets.token_hex(8)}")
    auth_cache_ttl_s: int = 60  # basic_auth.ini's auth_cache_ttl_seconds (README; MLflow's default: 0)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def artifacts(self) -> Path:
        return self.folder / "server-artifacts"

    @property
    def log(self) -> Path:
        return self.folder / f"team-server-{self.port}.log"

    def credentials(self, password: str | None = None) -> dict[str, str]:
        """The environment a team member's runs have."""
        return {
            "MLFLOW_TRACKING_USERNAME": MEMBER,
            "MLFLOW_TRACKING_PASSWORD": password or self.member_password,
        }

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", self.postgres.uri("mlflow"),
            "--artifacts-destination", str(self.artifacts),
            "--serve-artifacts",
            "--app-name", "basic-auth",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--workers", "2",
        ]  # fmt: skip

    def environment(self) -> dict[str, str]:
        ini = self.folder / "basic_auth.ini"
        ini.write_text(
            "[mlflow]\ndefault_permission = READ\n"
            f"database_uri = {self.postgres.uri('mlflow_auth')}\nadmin_username = {ADMIN}\n"
            f"auth_cache_ttl_seconds = {self.auth_cache_ttl_s}\n"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING_")}
        bin_dir = os.path.dirname(sys.executable)
        return env | {
            "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
            "MLFLOW_AUTH_CONFIG_PATH": str(ini),
            "MLFLOW_AUTH_ADMIN_PASSWORD": self.admin_password,
            "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-secret-key",
            "MLFLOW_DISABLE_TELEMETRY": "true",
        }

    def start(self, timeout: float = 120) -> None:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                self.command(), cwd=self.folder, env=self.environment(), stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2):
                    return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    tail = self.log.read_text()[-2000:]
                    raise RuntimeError(f"mlflow server did not start: {tail}") from None
                time.sleep(0.5)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def create_member(self) -> None:
        """The team member's account, created by the admin through the auth REST API."""
        body = json.dumps({"username": MEMBER, "password": self.member_password}).encode()
        token = b64encode(f"{ADMIN}:{self.admin_password}".encode()).decode()
        request = urllib.request.Request(
            f"{self.url}/api/2.0/mlflow/users/create",
            data=body,
            headers={"Content-Type": "application/json", "Authorization": f"Basic {token}"},
        )
        with urllib.request.urlopen(request, timeout=30):
            pass


def start_team_server(postgres: Postgres, folder: Path, port: int, auth_cache_ttl_s: int = 60) -> TeamServer:
    """Databases `mlflow` and `mlflow_auth` on the cluster, the server, the member's account."""
    postgres.create_database("mlflow")
    postgres.create_database("mlflow_auth")
    server = TeamServer(postgres, folder, port, auth_cache_ttl_s=auth_cache_ttl_s)
    server.start()
    server.create_member()
    return server
