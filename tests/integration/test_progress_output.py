"""What a person sees while `python -m pipeline.run` trains: on a pseudo-terminal one line
redrawn in place, on a pipe plain lines; in a sweep a line per job as it starts and ends; at
the end of a run, where it went. Each run's Source (command and commit) is recorded."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import termios
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

import pytest
from own_lines import foreign_lines
from sweep_helpers import command_pool


def on_a_terminal(project: Any, *args: str) -> tuple[int, str]:
    """Run a command with stdout and stderr on a pseudo-terminal; its exit status and output."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # 24 rows, 120 columns
    process = subprocess.Popen(
        list(args), cwd=project.path, env=project.env, stdout=follower, stderr=follower
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closes when the process has ended
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return process.wait(timeout=600), b"".join(chunks).decode("utf-8", errors="replace")


# Each test's command (after `python -m pipeline.run`), run in a copy of its own.
COMMANDS: dict[str, tuple[str, ...]] = {
    "terminal": ("training.epochs=60", "tracking.log_model=false"),
    "pipe": ("training.epochs=30", "training.progress_interval_s=0", "tracking.log_model=false"),
    "quiet": (
        "training.epochs=10",
        "training.progress=false",
        "training.progress_interval_s=0",
        "tracking.log_model=false",
    ),
    "sweep": (
        "-m",
        "optimizer=sgd,adam",
        "training.seed=1,2",
        "training.epochs=2",
        "tracking.log_model=false",
    ),
}


PROJECTS: dict[str, Any] = {}  # each command's copy of the project, by COMMANDS' name


def run_command_in_copy(project_factory: Callable[[str], Any], name: str) -> tuple[int, str, str]:
    """COMMANDS[name] in a fresh copy of the project (kept in PROJECTS): exit status, stdout,
    stderr. The terminal's command has stdout and stderr on one pseudo-terminal, all in `stdout`."""
    project = PROJECTS[name] = project_factory(name)
    args = ("python", "-m", "pipeline.run", *COMMANDS[name])
    if name == "terminal":
        code, screen = on_a_terminal(project, *args)
        return code, screen, ""
    result = project.run(*args)
    return result.returncode, result.stdout, result.stderr


@pytest.fixture(scope="module")
def runs(project_factory: Callable[[str], Any]) -> Iterator[dict[str, Future[tuple[int, str, str]]]]:
    """Every command of this module, started together and run two at a time (`command_pool`)."""
    pool = command_pool()
    yield {name: pool.submit(run_command_in_copy, project_factory, name) for name in COMMANDS}
    pool.shutdown(wait=True, cancel_futures=True)


def test_a_run_on_a_terminal_redraws_one_progress_line(runs: dict[str, Future[tuple[int, str, str]]]) -> None:
    code, screen, _ = runs["terminal"].result()
    assert code == 0, screen[-3000:]
    drawn = [part for part in re.split(r"[\r\n]", screen) if part.startswith("train:") and "%|" in part]
    assert drawn, screen[-3000:]
    final = drawn[-1]
    assert re.search(r"100%.*60/60 \[\d\d:\d\d<00:00, .*train_loss [\d.e+-]+, val_loss [\d.e+-]+\]", final), (
        final
    )
    assert "\r" in screen  # redrawn in place
    assert re.search(r"train: 60 epochs in [\d.]+s; final train_loss", screen)  # the summary line after it


def test_a_run_on_a_pipe_prints_plain_lines_without_control_codes(
    runs: dict[str, Future[tuple[int, str, str]]],
) -> None:
    _, stdout, stderr = runs["pipe"].result()
    output = stdout + stderr
    assert "\r" not in output and "\x1b[" not in output
    lines = [ln for ln in stderr.splitlines() if ln.startswith("train: epoch")]
    assert len(lines) == 30, stderr[-3000:]
    assert re.fullmatch(
        r"train: epoch 30/30, train_loss \S+, val_loss \S+, [\d.]+ s elapsed, about 0\.0 s left", lines[-1]
    )


def test_progress_false_leaves_only_the_summary(runs: dict[str, Future[tuple[int, str, str]]]) -> None:
    _, stdout, stderr = runs["quiet"].result()
    assert "train: epoch" not in stdout + stderr
    assert "train: 10 epochs in" in stdout


def test_a_sweep_prints_a_line_per_job_start_and_end(runs: dict[str, Future[tuple[int, str, str]]]) -> None:
    _, stdout, _ = runs["sweep"].result()
    lines = stdout.splitlines()
    started = [
        ln
        for ln in lines
        if re.match(r"job [1-4]/4 started: \S+ \(optimizer=\w+ training\.seed=\d .*\)$", ln)
    ]
    ended = [
        ln for ln in lines if re.match(r"job [1-4]/4 ended: \S+ finished, objective [\d.e+-]+, [\d.]+ s$", ln)
    ]
    assert len(started) == 4 and len(ended) == 4, stdout[-3000:]
    assert [ln.split()[1] for ln in ended] == ["1/4", "2/4", "3/4", "4/4"]


def test_a_run_ends_saying_where_it_went_and_records_its_source(
    runs: dict[str, Future[tuple[int, str, str]]],
) -> None:
    """The last lines find the run (name, id, experiment, store) and its output folder; the
    run page's Source is the command and the commit."""
    code, stdout, stderr = runs["quiet"].result()
    assert code == 0, stderr[-3000:]
    project = PROJECTS["quiet"]
    (run,) = project.runs()
    name, run_id = run.info.run_name, run.info.run_id
    *_, where, outputs = stdout.splitlines()
    assert where == f"mlflow: run {name} {run_id} in experiment 'keras-regression' at {project.tracking_uri}"
    assert (project.path / outputs.removeprefix("outputs: ") / "job.json").is_file(), outputs
    tags = run.data.tags
    assert tags["mlflow.source.name"] == " ".join(("python", "-m", "pipeline.run", *COMMANDS["quiet"]))
    assert tags["mlflow.source.git.commit"] == project.head()


def test_a_sweeps_runs_record_their_source(runs: dict[str, Future[tuple[int, str, str]]]) -> None:
    """The parent's Source is the sweep's command; a job's, the command that runs it alone."""
    code, _, stderr = runs["sweep"].result()
    assert code == 0, stderr[-3000:]
    project = PROJECTS["sweep"]
    sources = {r.data.tags.get("mlflow.parentRunId"): [] for r in project.runs()}
    for run in project.runs():
        sources[run.data.tags.get("mlflow.parentRunId")].append(run.data.tags["mlflow.source.name"])
        assert run.data.tags["mlflow.source.git.commit"] == project.head()
    assert sources.pop(None) == [" ".join(("python", "-m", "pipeline.run", *COMMANDS["sweep"]))]
    (jobs,) = sources.values()
    expected = {  # each job's overrides as Hydra hands them to it (a bool as Python writes it)
        f"python -m pipeline.run optimizer={o} training.seed={s} training.epochs=2 tracking.log_model=False"
        for o in ("sgd", "adam")
        for s in (1, 2)
    }
    assert set(jobs) == expected, jobs


def test_runs_and_a_sweep_print_only_their_own_lines_on_stderr(
    runs: dict[str, Future[tuple[int, str, str]]],
) -> None:
    """No TensorFlow, absl, oneDNN or other library line: the commands run without
    TF_CPP_MIN_LOG_LEVEL (conftest.subprocess_env) and quiet them themselves."""
    for name in ("pipe", "quiet", "sweep"):
        code, _, stderr = runs[name].result()
        assert code == 0 and foreign_lines(stderr) == [], (name, stderr[-3000:])
