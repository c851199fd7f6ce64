"""Who records a run, from which process and which command: tags set when a run is
created, so that the run page's Source names the command and commit, and a run left RUNNING
by a process that died (SIGKILL, the out-of-memory killer, a power cut) can be told from one
still training, and ended FAILED by the next command that opens the experiment on its host.
"""

from __future__ import annotations

import getpass
import os
import shlex
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

USER_TAG = "mlflow.user"  # MLflow shows it as the run's user
PROCESS_TAG = "process"  # host:pid:start, the process that records the run
RUN_STATUS_TAG = "run_status"  # finished | early_stopped | diverged | failed | killed
SOURCE_NAME_TAG = "mlflow.source.name"  # the run page's Source: the command
SOURCE_TYPE_TAG = "mlflow.source.type"
SOURCE_COMMIT_TAG = "mlflow.source.git.commit"
COMMAND_LIMIT = 5000  # characters of a command kept in its tag
DIED = "its process {process} ended without ending the run (killed, out of memory, or the machine stopped)"
DEAD_RUNS_LIMIT = 1000  # RUNNING runs of this host looked at per opening


def run_user() -> str:
    """The tracking server's account when one is set, else the login name."""
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    if user:
        return user
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container's uid without a passwd entry
        return str(os.getuid())


def process_start(pid: int) -> str | None:
    """When `pid` started, in clock ticks since boot (Linux's /proc); None if it is not running.
    With the pid, it names one process: a pid reused later has another start."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22; the name before ")" may hold spaces


def process_id() -> str:
    """This process, as `host:pid:start`."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{process_start(pid) or ''}"


def git_commit(cwd: Path | None = None) -> str | None:
    """The checked-out commit, or None outside a git repository."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def command_line(argv: list[str] | None = None) -> str:
    """The command that started this process as a user would type it (`python -m
    pipeline.run optimizer=adam`): the interpreter by its name, the arguments shell-quoted."""
    words = list(sys.orig_argv if argv is None else argv)
    if words:
        words[0] = Path(words[0]).name
    return shlex.join(words)[:COMMAND_LIMIT]


def source_tags(command: str | None = None) -> dict[str, str]:
    """What the run page shows as Source: `command` (else this process's `command_line()`)
    and, in a git checkout, its commit."""
    tags = {SOURCE_NAME_TAG: (command or command_line())[:COMMAND_LIMIT], SOURCE_TYPE_TAG: "LOCAL"}
    commit = git_commit()
    return tags | ({SOURCE_COMMIT_TAG: commit} if commit else {})


def owner_tags() -> dict[str, str]:
    """The tags every run is created with: its user, its process and its source."""
    return {USER_TAG: run_user(), PROCESS_TAG: process_id(), **source_tags()}


def is_dead(process: str | None) -> bool:
    """True only when `process` (a PROCESS_TAG value) ran on this host and has ended; a run
    from another host, or one without the tag, cannot be judged from here: False."""
    if not process or process.count(":") < 2:
        return False
    host, pid, start = process.rsplit(":", 2)
    if host != socket.gethostname() or not pid.isdigit() or not Path("/proc/self/stat").exists():
        return False
    now = process_start(int(pid))
    return now is None or (bool(start) and now != start)


def _pid(process: str) -> str:
    return process.rsplit(":", 2)[1]


def dead_runs_note(ended: list[tuple[str, str, str]]) -> str:
    """One line for the runs (name, id, process) just ended FAILED because their process died."""
    if len(ended) == 1:
        ((name, run_id, process),) = ended
        return (
            f"note: ended 1 run left RUNNING by a dead process on this host (pid {_pid(process)}): "
            f"{name} {run_id} → FAILED"
        )
    runs = ", ".join(f"{name} {run_id} (pid {_pid(process)})" for name, run_id, process in ended)
    return f"note: ended {len(ended)} runs left RUNNING by dead processes on this host: {runs} → FAILED"


def end_dead_runs_in(client: Any, experiment_id: str) -> list[tuple[str, str, str]]:
    """End FAILED, with a note as its `error` tag, every run of the experiment that a process
    of this host left RUNNING and that has ended; say so in one line on stderr when there were
    any. Returns (name, id, process) of each run ended. A run the store does not let us end
    (another user's, on a server) stays as it is; this never fails its caller."""
    from mlflow.entities import RunTag

    host = socket.gethostname()
    query = "attributes.status = 'RUNNING'"
    if "'" not in host:
        query += f" and tags.`{PROCESS_TAG}` LIKE '{host}:%'"
    try:
        runs = client.search_runs([experiment_id], filter_string=query, max_results=DEAD_RUNS_LIMIT)
    except Exception:  # noqa: BLE001 - the command itself says what is wrong with the store
        return []
    ended = []
    for run in runs:
        process = run.data.tags.get(PROCESS_TAG)
        if not is_dead(process):
            continue
        tags = [RunTag(RUN_STATUS_TAG, "failed"), RunTag("error", DIED.format(process=process))]
        try:
            client.log_batch(run.info.run_id, tags=tags)
            client.set_terminated(run.info.run_id, "FAILED")
        except Exception:  # noqa: BLE001 - not ours to end here; its own host's next command may
            continue
        ended.append((run.info.run_name or run.info.run_id[:8], run.info.run_id, str(process)))
    if ended:
        print(dead_runs_note(ended), file=sys.stderr)
    return ended
