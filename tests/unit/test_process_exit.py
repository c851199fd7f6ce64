"""`python -m pipeline.<module>` ends without the interpreter's teardown (pipeline.errors.exit_now),
yet with what a normal exit guarantees: the exit status, atexit handlers, flushed output,
and other threads finished."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_entry(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    script = f"""
import atexit, sys, threading, time
from pathlib import Path
from pipeline.errors import process_main
marker = Path({str(tmp_path)!r})
atexit.register(lambda: (marker / "atexit").write_text("ran"))
def entry():
{body}
process_main(entry)
"""
    return subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_the_exit_status_output_and_atexit_handlers_survive(tmp_path: Path) -> None:
    done = run_entry(tmp_path, "    print('to a pipe, so buffered')\n    sys.exit(3)")
    assert done.returncode == 3
    assert done.stdout == "to a pipe, so buffered\n"
    assert (tmp_path / "atexit").read_text() == "ran"


def test_a_normal_return_is_status_0_and_a_message_is_status_1(tmp_path: Path) -> None:
    assert run_entry(tmp_path, "    pass").returncode == 0
    done = run_entry(tmp_path, "    raise SystemExit('error: what went wrong')")
    assert done.returncode == 1
    assert done.stderr.strip() == "error: what went wrong"


def test_a_running_thread_is_waited_for(tmp_path: Path) -> None:
    body = (
        "    def late():\n"
        "        time.sleep(0.5)\n"
        "        (marker / 'thread').write_text('done')\n"
        "    threading.Thread(target=late).start()\n"
        "    sys.exit(4)"
    )
    done = run_entry(tmp_path, body)
    assert done.returncode == 4
    assert (tmp_path / "thread").read_text() == "done"
    assert (tmp_path / "atexit").read_text() == "ran"
