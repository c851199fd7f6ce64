"""`make check-lock`'s verdict after `dvc repro` (pipeline/stages/lock.py), on a git repository in
tmp_path holding the project's dvc.yaml, params.yaml, dvc.lock and metric files as committed, and
then what a `dvc repro` would have written: another CPU's last digits pass and say so; a stale
lock (code or params) fails naming the stage and what differs; metrics that moved fail."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.stages.lock import main

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ("dvc.yaml", "params.yaml", "dvc.lock", "reports/headline.json", "reports/metrics.json")


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The project's lock and metric files, committed."""
    for name in COMMITTED:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "-c", "user.email=t@localhost", "-c", "user.name=t", "commit", "-qm", "committed lock")
    return tmp_path


def scaled(data: Any, factor: float) -> Any:
    """`data` with every float multiplied by `factor`."""
    if isinstance(data, dict):
        return {key: scaled(value, factor) for key, value in data.items()}
    return data * factor if isinstance(data, float) else data


def other_cpu(lock: dict[str, Any], repo: Path) -> None:
    """What another CPU's `dvc repro` writes: the model's bytes and every place dvc.lock
    records them differ (train's output, evaluate's dependency), as do the metric files."""
    for stage in lock["stages"].values():
        for entry in stage.get("outs", []) + stage.get("deps", []):
            if entry["path"] in ("models", "reports/metrics.json", "reports/headline.json"):
                entry["md5"] = "0" * 32 + (".dir" if entry["path"] == "models" else "")


def metrics_moved(factor: float) -> Callable[[dict[str, Any], Path], None]:
    def change(lock: dict[str, Any], repo: Path) -> None:
        other_cpu(lock, repo)
        for name in ("reports/metrics.json", "reports/headline.json"):
            path = repo / name
            path.write_text(json.dumps(scaled(json.loads(path.read_text()), factor), indent=2))

    return change


def code_changed(lock: dict[str, Any], repo: Path) -> None:
    metrics_moved(1 + 1e-9)(lock, repo)
    dep = next(d for d in lock["stages"]["train"]["deps"] if d["path"] == "pipeline/model")
    dep["md5"] = "f" * 32 + ".dir"


def param_changed(lock: dict[str, Any], repo: Path) -> None:
    other_cpu(lock, repo)
    lock["stages"]["train"]["params"]["params.yaml"]["training"]["epochs"] += 1


def last_digit_flipped(lock: dict[str, Any], repo: Path) -> None:
    """The rounding to 6 significant digits turned a tiny difference into one unit of the
    last digit: 57.6144 against 57.6145."""
    other_cpu(lock, repo)
    path = repo / "reports" / "headline.json"
    headline = json.loads(path.read_text())
    value = headline["test_rmse"]
    headline["test_rmse"] = float(f"{value:.6g}") + 10 ** (len(str(int(value))) - 6)
    path.write_text(json.dumps(headline))


@pytest.mark.parametrize(
    ("change", "status", "line"),
    [
        (
            metrics_moved(1 + 1e-9),
            0,
            "outputs differ from the committed ones (models, reports/headline.json, reports/metrics.json)"
            " but the metrics agree to 1e-06 relative (largest difference 1e-09), as on another CPU",
        ),
        (last_digit_flipped, 0, "or one unit of the last of the 6 significant digits the reports keep"),
        (code_changed, 1, "error: the committed dvc.lock is stale: stage train's dependency pipeline/model"),
        (param_changed, 1, "error: the committed dvc.lock is stale: stage train's param training.epochs"),
        (metrics_moved(1 + 1e-4), 1, "so do the metrics, with the same code, data and params"),
    ],
    ids=["another-cpu", "last-digit", "stale-code", "stale-param", "metrics-moved"],
)
def test_check_lock_tells_another_cpu_from_a_stale_lock(
    repo: Path,
    change: Callable[[dict[str, Any], Path], None],
    status: int,
    line: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    change(lock, repo)
    (repo / "dvc.lock").write_text(yaml.safe_dump(lock, sort_keys=False))
    monkeypatch.chdir(repo)
    with pytest.raises(SystemExit) as ended:
        main()  # `python -m pipeline.stages.lock`, as `make check-lock` runs it after `dvc repro`
    said = capsys.readouterr()
    lines = (said.out + said.err).splitlines()
    assert (ended.value.code, len(lines)) == (status, 1), lines
    assert line in lines[0], lines[0]
    assert (said.err if status else said.out).strip() == lines[0]  # an error on stderr
