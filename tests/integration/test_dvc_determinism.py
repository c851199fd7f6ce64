"""The same inputs give the same outputs: `dvc repro` twice, and `dvc repro` in a fresh
clone, leave the same hashes in `dvc.lock` and `git status` clean, so two people (or a
shared DVC cache) can tell they got the same result. On another CPU (oneDNN held to another
instruction set) the model's bytes differ, and `make check-lock`'s comparison says that only
the outputs differ and the metrics agree."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import yaml

from tests.integration.conftest import run_command


def out_hashes(lock: dict[str, Any]) -> dict[str, str]:
    """Every stage output's md5 in a dvc.lock, by path."""
    return {out["path"]: out["md5"] for stage in lock["stages"].values() for out in stage.get("outs", [])}


@pytest.fixture(scope="module")
def committed(project_factory: Any) -> Any:
    """A shrunk copy after `dvc repro`, its dvc.lock and reports committed."""
    project = project_factory("dvc-determinism")
    project.run("dvc", "repro")
    project.run("git", "add", "-A")
    project.run("git", "commit", "-q", "-m", "the lock of the shrunk copy")
    return project


@pytest.mark.slow
def test_retraining_and_a_fresh_clone_give_the_same_bytes_and_lock(committed: Any) -> None:
    project = committed
    lock_text = (project.path / "dvc.lock").read_text()
    first = out_hashes(yaml.safe_load(lock_text))
    for path in ("data/raw", "data/interim", "data/processed", "models", "reports/metrics.json"):
        assert path in first, sorted(first)

    project.run("dvc", "repro", "-f")  # every stage again, later, in new processes
    assert project.run("git", "status", "--porcelain").stdout == ""  # dvc.lock and reports unchanged
    runs = project.runs()
    assert len(runs) == 2 and runs[0].info.run_id != runs[1].info.run_id  # two trainings, two records
    assert {r.info.status for r in runs} == {"FINISHED"} and all(
        "test_mse_scaled" in r.data.metrics for r in runs
    )

    clone = project.path.parent / "clone"
    subprocess.run(["git", "clone", "-q", str(project.path), str(clone)], check=True, env=project.env)
    run_command(("dvc", "repro"), clone, project.env)  # another folder, nothing cached: every stage runs
    assert run_command(("git", "status", "--porcelain"), clone, project.env).stdout == ""
    assert (clone / "dvc.lock").read_text() == lock_text
    assert len(project.runs()) == 3


@pytest.mark.slow
def test_check_lock_passes_a_clone_on_another_instruction_set(committed: Any) -> None:
    # What `make check-lock` runs after its clean-checkout check, in a fresh clone whose
    # oneDNN may use SSE4.1 at most: another CPU's kernels, on this one.
    clone = committed.path.parent / "clone-sse41"
    subprocess.run(["git", "clone", "-q", str(committed.path), str(clone)], check=True, env=committed.env)
    env = committed.env | {"ONEDNN_MAX_CPU_ISA": "SSE41"}
    run_command(("dvc", "repro"), clone, env)
    new = out_hashes(yaml.safe_load((clone / "dvc.lock").read_text()))
    assert new["models"] != out_hashes(yaml.safe_load((committed.path / "dvc.lock").read_text()))["models"]
    checked = run_command((sys.executable, "-m", "pipeline.stages.lock"), clone, env, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith("check-lock: the committed dvc.lock is current"), checked.stdout
    assert "the metrics agree to 1e-06 relative" in checked.stdout, checked.stdout
