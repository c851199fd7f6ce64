"""Load on a team's server: two sweeps of 4 workers each recording into PostgreSQL behind
basic auth at once (benchmarks/team_load.py, run as a user would, at a small size). Every run
FINISHED, every per-epoch metric point and every model on the server, counted there."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from reliability_helpers import ROOT, subprocess_env

pytestmark = pytest.mark.slow  # eight training processes and a server: make test-slow


def test_two_parallel_sweeps_of_four_workers_lose_nothing_on_the_team_server(tmp_path, record_runs):
    figures = tmp_path / "load.json"
    command = [sys.executable, "benchmarks/team_load.py", "--epochs", "10", "--json", str(figures)]
    command += ["--workdir", str(tmp_path / "work")]
    env = subprocess_env()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert figures.is_file(), done.stdout[-3000:] + done.stderr[-3000:]
    found = json.loads(figures.read_text())
    record_runs(found["runs_expected"], found["runs_found"])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert found["runs_found"] == found["runs_expected"] == 10  # 2 parents, 8 jobs
    assert found["points_found"] == found["points_expected"] > 8 * 10  # every epoch's every series
    assert found["models_found"] == found["models_expected"] == 8
    print(done.stdout[-800:])
