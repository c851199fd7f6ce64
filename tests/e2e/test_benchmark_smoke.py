"""The benchmark keeps working (docs/benchmarks.md): a short run of its single-run section on
the real Facebook data. It asserts what the run produced, never a time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_benchmark_runs_and_reports_every_variant(tmp_path: Path) -> None:
    result = tmp_path / "bench.json"
    command = [sys.executable, "benchmarks/bench.py", "--only", "a,b,c,logmodel,sweep", "--repeats", "1"]
    command += ["--epochs", "3", "--sweep-epochs", "2", "--sweep-repeats", "2", "--json", str(result)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    numbers = json.loads(result.read_text())
    assert set(numbers["compare"]) == {"a", "b", "c", "logmodel"}
    for variant in numbers["compare"].values():
        assert len(variant["seconds"]) == 1 and variant["seconds"][0] > 0
    # the project's variants trained the same network to the same validation MSE
    mses = {name: numbers["compare"][name]["val_mse"][0] for name in ("b", "c", "logmodel")}
    assert len(set(mses.values())) == 1, mses
    assert len(numbers["log_model_call_s"]) == 5
    assert "b/c" in numbers["ratios"] and "ratios (medians)" in done.stdout
    sweep = numbers["sweep"]  # two project sweeps (before and after the course's fits), all recorded
    assert len(sweep["project_walls_s"]) == 2 and sweep["course_wall_s"] > 0
    assert sweep["project_job_runs"] == 24 and sweep["project_job_runs_finished"] == 24, sweep
    assert "speed-up: " in done.stdout
