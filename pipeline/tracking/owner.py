"""Who records a run, and from which process: tags set when a run is created, so a run
left RUNNING by a process that died (SIGKILL, the out-of-memory killer, a power cut) can
be told from one still training, and ended FAILED by whoever reads the experiment next.
"""

from __future__ import annotations

import getpass
import os
import socket
from pathlib import Path

USER_TAG = "mlflow.user"  # MLflow shows it as the run's user
PROCESS_TAG = "process"  # host:pid:start, the process that records the run
DIED = "its process {process} ended without ending the run (killed, out of memory, or the machine stopped)"


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


def owner_tags() -> dict[str, str]:
    """The tags every run is created with: its user and its process."""
    return {USER_TAG: run_user(), PROCESS_TAG: process_id()}


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
