"""A user's error is one line of ours on stderr, exit status 2, found before TensorFlow is
imported: a missing file, a one-class target, an undeclared text column, a tracking server
that refuses the password; through `python -m pipeline.run` and `dvc exp run`.

Every command runs with PYTHONPROFILEIMPORTTIME=1 (inherited by DVC's stage processes): the
modules each process imported are listed on stderr, and none may be `tensorflow`. The
project's copy runs without TF_CPP_MIN_LOG_LEVEL (conftest.subprocess_env): the commands
quiet TensorFlow themselves.
"""

from __future__ import annotations

import dataclasses
import http.server
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from own_lines import foreign_lines, imported

FILES = {
    "oneclass.csv": "a,b,y\n1,2,3\n4,5,3\n6,7,3\n8,9,3\n",
    "city.csv": "a,city,y\n1,Berlin,3\n4,Rome,5\n6,Rome,7\n8,Berlin,9\n",
}
# each error: the overrides of `python -m pipeline.run`, and what its line must name
ERRORS = {
    "missing file": (["dataset=csv", "dataset.path=nope.csv", "dataset.target=y"], "nope.csv"),
    "one-class target": (
        ["dataset=csv", "dataset.path=oneclass.csv", "dataset.target=y", "dataset.task=binary"],
        "oneclass.csv",
    ),
    "undeclared text column": (["dataset=csv", "dataset.path=city.csv", "dataset.target=y"], "city"),
}


class Refusing(http.server.BaseHTTPRequestHandler):
    """A tracking server that refuses every request's credentials (HTTP 401), as MLflow's
    basic-auth app does for a wrong password."""

    def refuse(self) -> None:
        body = b"You are not authenticated."
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="mlflow"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_DELETE = refuse

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def refusing_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def project(project_factory: Callable[[str], Any]) -> Any:
    project = project_factory("quiet-errors")
    assert "TF_CPP_MIN_LOG_LEVEL" not in project.env
    project.env["PYTHONPROFILEIMPORTTIME"] = "1"
    for name, text in FILES.items():
        (project.path / name).write_text(text, encoding="utf-8")
    return project


def lines_before_tensorflow(done: Any, names: str) -> list[str]:
    """The stderr of a command that failed: only our lines, the first an error naming
    `names`, and no process of it imported TensorFlow; its lines (import times left out)."""
    lines = [line for line in done.stderr.splitlines() if not line.startswith("import time: ")]
    assert foreign_lines(done.stderr) == [], lines
    assert not imported(done.stderr, "tensorflow"), lines
    assert lines and lines[0].startswith("error: ") and names in lines[0], lines
    return lines


@pytest.mark.parametrize("error", list(ERRORS))
def test_a_data_error_is_one_line_exit_2_before_tensorflow(project: Any, error: str) -> None:
    overrides, names = ERRORS[error]
    done = project.run("python", "-m", "pipeline.run", *overrides, "training.epochs=1", check=False)
    assert done.returncode == 2, done.stderr[-3000:]
    assert len(lines_before_tensorflow(done, names)) == 1
    assert [r for r in project.runs() if r.info.status == "FINISHED"] == []


def test_a_refused_password_is_one_line_exit_2_before_tensorflow(project: Any, refusing_server: str) -> None:
    env = project.env | {"MLFLOW_TRACKING_USERNAME": "alice", "MLFLOW_TRACKING_PASSWORD": "not-the-password"}
    command = ("python", "-m", "pipeline.run", f"tracking.uri={refusing_server}")
    done = dataclasses.replace(project, env=env).run(*command, check=False)
    assert done.returncode == 2, done.stderr[-3000:]
    (line,) = lines_before_tensorflow(done, refusing_server)
    assert "HTTP 401" in line and "not-the-password" not in done.stdout + done.stderr


def test_dvc_exp_run_ends_with_our_line_then_dvcs(project: Any) -> None:
    """The stage's one line, then DVC's `ERROR: failed to reproduce ...`; nothing else (but
    DVC's warnings that this copy, unlike a clone, has no dvc.lock to check outputs out of)."""
    overrides = ("-S", "dataset=csv", "-S", "dataset.path=nope.csv", "-S", "dataset.target=y")
    done = project.run("dvc", "exp", "run", *overrides, check=False)
    assert done.returncode != 0
    no_lock = "WARNING: No file hash info found for "
    done.stderr = "\n".join(line for line in done.stderr.splitlines() if not line.startswith(no_lock))
    lines = lines_before_tensorflow(done, "nope.csv")
    assert len(lines) == 2 and lines[1].startswith("ERROR: failed to reproduce "), lines
