"""The same inputs give the same outputs: `dvc repro` twice leaves the same hashes in
`dvc.lock`, so two people (or a shared DVC cache) can tell they got the same result."""

from __future__ import annotations

from typing import Any

import pytest
import yaml


def out_hashes(lock: dict[str, Any]) -> dict[str, str]:
    """Every stage output's md5 in a dvc.lock, by path."""
    return {out["path"]: out["md5"] for stage in lock["stages"].values() for out in stage.get("outs", [])}


@pytest.mark.slow
def test_retraining_gives_the_same_model_bytes_and_lock(project_factory: Any) -> None:
    project = project_factory("dvc-determinism")
    project.run("dvc", "repro")
    first = out_hashes(yaml.safe_load((project.path / "dvc.lock").read_text()))
    project.run("dvc", "repro", "-f")  # every stage again, later, in new processes
    second = out_hashes(yaml.safe_load((project.path / "dvc.lock").read_text()))
    runs = project.runs()
    assert len(runs) == 2 and runs[0].info.run_id != runs[1].info.run_id  # two trainings, two records
    # the run's id is the one output that names the run; everything else is the same bytes
    differ = {path for path in first if first[path] != second.get(path)}
    assert differ == {"reports/run.json"}, {p: (first[p], second.get(p)) for p in differ}
    for path in ("data/raw", "data/interim", "data/processed", "models", "reports/metrics.json"):
        assert path in first, sorted(first)
