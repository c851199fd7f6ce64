"""A crash between stages, then `dvc repro` again: it resumes from the failed stage, and the
result equals an uninterrupted run.

In a throwaway git + DVC copy of the project (tests/integration's helpers, diabetes data, 3
epochs), the split stage fails on a bad `params.yaml` (more validation rows than the data
has) after ingest and normalize have finished. Fixing it and running `dvc repro` again must
skip the finished stages and run only the rest, and give the same partitions and metrics as
an uninterrupted run: the five stage commands, in order, on the same params.yaml in a fresh
folder (in-process, under `run_cli`, as `python -m pipeline.stages.<stage>` runs them: a `dvc repro -f`
would cost five more Python starts, two of them importing TensorFlow).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from reliability_helpers import ROOT, leftovers

from pipeline.core.errors import run_cli

STAGES = ("ingest", "normalize", "split", "train", "evaluate")
DONE, REST = STAGES[:2], STAGES[2:]


def integration_helpers() -> Any:
    """tests/integration/conftest.py as a plain module (its fixtures are not registered here)."""
    spec = importlib.util.spec_from_file_location(
        "integration_project", ROOT / "tests/integration/conftest.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def ran(output: str, stage: str) -> bool:
    return f"Running stage '{stage}'" in output


def snapshot(repo: Path) -> dict[str, Any]:
    return {
        "metrics": json.loads((repo / "reports" / "metrics.json").read_text()),
        "md5": json.loads((repo / "data" / "processed" / "manifest.json").read_text())["md5"],
    }


def uninterrupted(
    params: Path, folder: Path, tracking_uri: str, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """Every stage command in order, uninterrupted, on `params` in a fresh `folder`."""
    folder.mkdir()
    shutil.copy2(params, folder / "params.yaml")
    monkeypatch.chdir(folder)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    for stage in STAGES:
        run_cli(importlib.import_module(f"pipeline.stages.{stage}").main)
    return snapshot(folder)


@pytest.mark.slow  # minutes of real processes: CI runs it (make test-slow)
def test_a_failed_stage_resumes_and_equals_an_uninterrupted_run(
    tmp_path: Path, record_runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = integration_helpers().make_project(tmp_path)
    repo, params = project.path, project.path / "params.yaml"
    good = params.read_text()
    broken = yaml.safe_load(good)
    broken["split"]["validation"] = 100_000  # valid config, impossible for 442 rows
    params.write_text(yaml.safe_dump(broken, sort_keys=False))

    crash = project.run("dvc", "repro", check=False)
    output = crash.stdout + crash.stderr
    assert crash.returncode != 0, output
    assert [s for s in STAGES if ran(output, s)] == ["ingest", "normalize", "split"], output
    assert "error: " in output and "rows are too few for split.validation=100000" in output, output
    assert "Traceback" not in output, output
    assert {p.name for p in (repo / "data" / "raw").iterdir()} == {"data.csv", "provenance.json"}
    interim = {p.name for p in (repo / "data" / "interim").iterdir()}
    assert interim == {"normalized.parquet", "schema.json", "provenance.json"}
    for absent in ("data/processed", "models", "reports/metrics.json", "reports/predictions.csv"):
        assert not (repo / absent).exists(), absent
    assert leftovers(repo / "data") == []
    assert set(yaml.safe_load((repo / "dvc.lock").read_text())["stages"]) == set(DONE)
    assert project.runs() == []  # nothing reached training

    params.write_text(good)  # the fix
    resumed = project.run("dvc", "repro")
    output = resumed.stdout + resumed.stderr
    for stage in DONE:
        assert not ran(output, stage) and f"Stage '{stage}' didn't change, skipping" in output, output
    for stage in REST:
        assert ran(output, stage), output
    after_resume = snapshot(repo)

    assert set(yaml.safe_load((repo / "dvc.lock").read_text())["stages"]) == set(STAGES)

    from_scratch = uninterrupted(params, tmp_path / "uninterrupted", project.tracking_uri, monkeypatch)

    runs = project.runs()
    record_runs(2, len(runs))
    assert [r.info.status for r in runs] == ["FINISHED", "FINISHED"]
    assert after_resume["md5"] == from_scratch["md5"]  # the same partitions, byte for byte
    assert after_resume["metrics"]["status"] == from_scratch["metrics"]["status"] == "finished"
    for part in ("train", "validation", "test"):
        for unit, values in from_scratch["metrics"][part].items():
            for name, value in values.items():
                assert after_resume["metrics"][part][unit][name] == pytest.approx(value, rel=1e-5), (
                    part,
                    name,
                )
