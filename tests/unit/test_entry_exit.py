"""An entry point ends the way Python ends a program: nothing it wrote is skipped."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def test_a_stage_entry_point_flushes_a_file_left_open_and_runs_its_exit_handlers(tmp_path: Path) -> None:
    """What `os._exit` skipped, and `gc.freeze()` after the imports skips too (measured:
    docs/benchmarks.md): a file a module keeps open at exit is flushed, atexit handlers run."""
    script = textwrap.dedent(
        f"""
        import atexit
        from pipeline.core.errors import run_cli

        LOG = []

        def main():
            out = open({str(tmp_path / "buffered.txt")!r}, "w")
            out.write("written, never flushed by hand")
            LOG.append(out)  # still open at exit
            atexit.register(lambda: open({str(tmp_path / "atexit.txt")!r}, "w").write("ran"))

        run_cli(main)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "buffered.txt").read_text() == "written, never flushed by hand"
    assert (tmp_path / "atexit.txt").read_text() == "ran"
