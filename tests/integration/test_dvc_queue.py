"""DVC's way of sweeping: queued experiments run by two workers, tracked in the project's store.

In a private git + DVC copy of the project (training shrunk to 3 epochs), as the README says:

    dvc repro && git commit
    dvc exp run --queue -S 'optimizer=sgd,adam,rmsprop' && dvc queue start -j 2
    dvc exp show, and make exp-show's command within 120 columns

No $MLFLOW_TRACKING_URI: every run must land in the copy's own `mlflow.db` with its artifacts
in the copy's `mlartifacts/`, even though DVC runs queued experiments in temporary
workspaces under `.dvc/tmp/exps/`.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from sweep_helpers import ROOT, command_env, run_command_checked

EPOCHS = 3
QUEUE_TIMEOUT_S = 360
OPTIMIZERS = {"sgd", "adam", "rmsprop"}


def copy_project(dest: Path, env: dict[str, str]) -> Path:
    """The project's tracked files (and new, not ignored, files of pipeline/ and conf/) as
    they are in the working tree, committed in a fresh git repository; training shrunk."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached"], capture_output=True, check=True
    ).stdout
    new = subprocess.run(
        [
            "git",
            "-C",
            str(ROOT),
            "ls-files",
            "-z",
            "--others",
            "--exclude-standard",
            "--",
            "pipeline/",
            "conf/",
        ],
        capture_output=True,
        check=True,
    ).stdout
    for name in sorted({n for n in (listed + new).decode().split("\0") if n}):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    assert (dest / ".dvc" / "config").is_file(), "the project's .dvc/config is not tracked"

    training = dest / "conf" / "training" / "default.yaml"
    text, count = re.subn(r"(?m)^epochs:\s*\d+", f"epochs: {EPOCHS}", training.read_text())
    assert count == 1, f"{training}: no top-level `epochs:` line"
    training.write_text(text)

    def sh(*args: str) -> None:
        run_command_checked(args, env, cwd=dest)

    sh("git", "init", "-q")
    sh("git", "config", "user.name", "Pipeline Tests")
    sh("git", "config", "user.email", "pipeline-tests@example.invalid")
    sh("git", "config", "commit.gpgsign", "false")
    sh("python", "-m", "pipeline.compose")
    sh("git", "add", "-A")
    sh("git", "commit", "-q", "-m", "project copy for tests")
    return dest


def queue_status(repo: Path, env: dict[str, str]) -> str:
    return run_command_checked(["dvc", "queue", "status"], env, cwd=repo).stdout


def wait_for_queue(repo: Path, env: dict[str, str]) -> str:
    """Poll `dvc queue status` until nothing is queued or running."""
    deadline = time.monotonic() + QUEUE_TIMEOUT_S
    while True:
        status = queue_status(repo, env)
        tasks = [line for line in status.splitlines() if re.search(r"\b(Queued|Running)\b", line)]
        if not tasks:
            return status
        if time.monotonic() > deadline:
            pytest.fail(f"the DVC queue did not finish within {QUEUE_TIMEOUT_S}s:\n{status}")
        time.sleep(5)


def processes_in(folder: Path) -> list[int]:
    """Ids of processes whose working directory lies inside `folder` (queue workers, tasks)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if cwd == folder or folder in cwd.parents:
            found.append(int(entry.name))
    return found


def stop_queue(repo: Path, env: dict[str, str]) -> None:
    """Stop the queue's workers, then end (by id) any process still working in the copy."""
    for args in (["dvc", "queue", "stop"], ["dvc", "queue", "stop", "--kill"]):
        try:
            subprocess.run(args, cwd=repo, env=env, capture_output=True, timeout=60)
        except subprocess.TimeoutExpired:
            pass
    deadline = time.monotonic() + 20
    while processes_in(repo) and time.monotonic() < deadline:
        time.sleep(1)
    for pid in processes_in(repo):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def experiments_of(show: list[dict[str, Any]], baseline: str) -> list[dict[str, Any]]:
    """The experiment revisions `dvc exp show --json` lists under the baseline commit."""
    entry = next((e for e in show if e.get("rev") == baseline), None)
    assert entry is not None, f"baseline {baseline} not in `dvc exp show`: {[e.get('rev') for e in show]}"
    return [rev for exp in entry.get("experiments") or [] for rev in exp["revs"]]


def exp_show_within(sh: Any, repo: Path, env: dict[str, str], columns: int) -> str:
    """Run the Makefile's EXP_SHOW command in `repo` as `make exp-show` would, in a
    terminal `columns` wide; its output, each line checked to fit."""
    line = next(ln for ln in (ROOT / "Makefile").read_text().splitlines() if ln.startswith("EXP_SHOW :="))
    command = line.split(":=", 1)[1].strip().replace("$$", "$")
    shown = run_command_checked(["bash", "-c", command], {**env, "COLUMNS": str(columns)}, cwd=repo).stdout
    too_wide = [ln for ln in shown.splitlines() if len(ln) > columns]
    assert not too_wide, shown
    return shown


@pytest.mark.slow  # about 2 minutes: three full pipelines in DVC queue workers (make test-slow)
def test_queued_experiments_run_in_parallel_and_track_into_the_projects_store(tmp_path: Path) -> None:
    env = command_env(
        {
            "DVC_NO_ANALYTICS": "1",
            "DVC_SITE_CACHE_DIR": str(tmp_path / "dvc-site-cache"),
            "GIT_TERMINAL_PROMPT": "0",
        },
        drop=["MLFLOW_TRACKING_URI"],  # the default store: <copy>/mlflow.db
    )
    repo = copy_project(tmp_path / "repo", env)

    def sh(*args: str) -> subprocess.CompletedProcess[str]:
        return run_command_checked(args, env, cwd=repo)

    sh("dvc", "repro")
    sh("git", "add", "-A")
    sh("git", "commit", "-q", "-m", "baseline")
    baseline = sh("git", "rev-parse", "HEAD").stdout.strip()

    try:
        queued = sh("dvc", "exp", "run", "--queue", "-S", "optimizer=sgd,adam,rmsprop")
        assert queued.stdout.count("Queued experiment") == 3, queued.stdout
        # to a file, not a pipe: the queue's workers can inherit the command's output, and a
        # pipe then stays open until they exit (seen once in CI: a 600 s wait on a started queue)
        start_log = tmp_path / "queue-start.log"
        with open(start_log, "w") as out:
            started = subprocess.run(
                ["dvc", "queue", "start", "-j", "2"], cwd=repo, env=env, stdout=out, stderr=out, timeout=300
            )
        assert started.returncode == 0 and "Started" in start_log.read_text(), start_log.read_text()
        status = wait_for_queue(repo, env)
    finally:
        stop_queue(repo, env)
    task_lines = [line for line in status.splitlines() if re.search(r"\b(Success|Failed)\b", line)]
    assert len(task_lines) == 3 and all("Success" in line for line in task_lines), status

    # dvc exp show: three experiments, each with its params and its metrics
    show = json.loads(sh("dvc", "exp", "show", "--json").stdout)
    experiments = experiments_of(show, baseline)
    assert len(experiments) == 3, json.dumps(experiments, indent=1)[:4000]
    dvc_mse: dict[str, float] = {}
    for rev in experiments:
        assert rev.get("error") is None, rev.get("error")
        data = rev["data"]
        optimizer = data["params"]["params.yaml"]["data"]["optimizer"]["name"]
        metrics = data["metrics"]["reports/metrics.json"]["data"]
        mse = metrics["test"]["scaled"]["mse"]
        assert isinstance(mse, float) and math.isfinite(mse), (rev["name"], metrics)
        dvc_mse[optimizer] = mse
    assert set(dvc_mse) == OPTIMIZERS, dvc_mse
    csv_show = sh("dvc", "exp", "show", "--csv").stdout
    mse_column = csv_show.splitlines()[0].split(",").index("test.scaled.mse")
    for line in csv_show.splitlines()[1:]:
        cell = line.split(",")[mse_column]
        assert cell not in ("", "!"), f"`dvc exp show` has no test.scaled.mse for: {line[:200]}"

    # `make exp-show`, the README's comparison: within 120 columns, the optimizer and the
    # headline metrics of every experiment in view
    shown = exp_show_within(sh, repo, env, 120)
    header = next(line for line in shown.splitlines() if "Experiment" in line).split()
    assert header[0] == "Experiment" and set(header[1:3]) == {"val_rmse", "test_rmse"}, shown
    assert "optimizer.name" in header, shown
    assert "…" not in shown, shown  # no column pushed off the screen
    rows = [line for line in shown.splitlines() if re.search(r"\[[\w-]+\]", line)]
    assert len(rows) == 3, shown
    name_column = header.index("optimizer.name")
    assert {line.split()[name_column + 2] for line in rows} == OPTIMIZERS, shown  # +2: tree glyph, sha
    for line in rows:
        assert re.search(r"\]\s+\d+\.\d+\s+\d+\.\d+\s", line), line  # both RMSEs, as numbers

    # MLflow: every run in the copy's own store, FINISHED, artifacts in the copy's mlartifacts/
    from mlflow import MlflowClient

    store = repo / "mlflow.db"
    assert store.is_file(), f"no {store}: the runs went elsewhere"
    client = MlflowClient(f"sqlite:///{store}")
    experiment = client.get_experiment_by_name("keras-regression")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    names = sorted(r.data.params["optimizer.name"] for r in runs)
    # the baseline run (dvc repro, sgd) plus one per queued experiment that trained anew; the
    # `sgd` experiment has the baseline's exact params, so DVC reuses the baseline's results
    assert names == sorted(OPTIMIZERS), f"one run per configuration expected, got {names}"
    artifacts_root = (repo / "mlartifacts").resolve()
    for run in runs:
        optimizer = run.data.params["optimizer.name"]
        assert run.info.status == "FINISHED", (optimizer, run.info.status, run.data.tags)
        assert run.data.params["training.epochs"] == str(EPOCHS)
        # the numbers DVC shows are the numbers MLflow recorded, to the 6 significant digits
        # metrics.json keeps (README "Same inputs, same outputs")
        assert math.isclose(run.data.metrics["test_mse_scaled"], dvc_mse[optimizer], rel_tol=5e-6), (
            optimizer,
            run.data.metrics["test_mse_scaled"],
            dvc_mse[optimizer],
        )
        assert run.info.artifact_uri.startswith(artifacts_root.as_uri() + "/"), run.info.artifact_uri
        assert run.data.tags.get("model_uri", "").startswith("models:/"), run.data.tags
        if optimizer != "sgd":  # trained by a queued experiment, from the baseline commit
            assert run.data.tags.get("git_commit") == baseline, run.data.tags.get("git_commit")

    # nothing of MLflow's was left in DVC's temporary workspaces
    leaked = [
        p
        for p in (repo / ".dvc" / "tmp").rglob("*")
        if p.name in ("mlflow.db", "mlruns", "mlartifacts", "MLmodel")
    ]
    assert not leaked, leaked

    # each model is logged in the run's experiment, its files in the copy's mlartifacts/
    for run in runs:
        model = client.get_logged_model(run.data.tags["model_uri"].removeprefix("models:/"))
        where = (model.experiment_id, model.artifact_location)
        assert where[0] == run.info.experiment_id and where[1].startswith(artifacts_root.as_uri() + "/"), (
            f"{run.info.run_name}: model logged in experiment {where[0]} at {where[1]}, "
            f"not in experiment {run.info.experiment_id} under {artifacts_root}"
        )
        assert (Path(where[1].removeprefix("file://")) / "MLmodel").is_file(), where
    assert not (repo / "mlruns").exists(), "MLflow's default ./mlruns was written"
