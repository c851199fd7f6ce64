"""A preset run in parallel (joblib, 2 workers) against one SQLite store.

The jobs share the store and the parent run: nothing may lock, every job must finish, and
the results must be the ones the same sweep gives when its jobs run one after another.
"""

from __future__ import annotations

import math
import subprocess
import time
from pathlib import Path

from sweep_helpers import (
    DECOY_DB,
    ROOT,
    Sweep,
    assert_parent_report,
    command_env,
    create_store,
    sweep_overrides,
)

PRESET = ("+experiment=optimizers", "training.epochs=3")
PARALLEL = ("hydra/launcher=joblib", "hydra.launcher.n_jobs=2")
OPTIMIZERS = {"sgd", "rmsprop", "adam", "momentum"}


def start_sweep(store: Path, *overrides: str) -> tuple[subprocess.Popen[str], list[str]]:
    create_store(store)
    args = ["python", "-m", "pipeline.run", "-m", *overrides, *sweep_overrides(store)]
    env = command_env({"MLFLOW_TRACKING_URI": f"sqlite:///{store / DECOY_DB}"})
    process = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    return process, args


def finish(process: subprocess.Popen[str], args: list[str], store: Path, started: float) -> Sweep:
    try:
        stdout, stderr = process.communicate(timeout=900)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
    return Sweep(args, process.returncode, stdout, stderr, store, time.monotonic() - started)


def final_metrics(sweep: Sweep) -> dict[str, float]:
    runs = sweep.children()
    assert len(runs) == 4, [r.info.run_name for r in runs]
    by_name = {r.data.params["optimizer.name"]: r for r in runs}
    assert set(by_name) == OPTIMIZERS, sorted(by_name)
    return {name: run.data.metrics["validation_mse_scaled"] for name, run in by_name.items()}


def test_parallel_sweep_matches_the_sequential_one(tmp_path: Path) -> None:
    # The two sweeps use separate stores, so they may as well run at the same time.
    started = time.monotonic()
    parallel_proc, parallel_args = start_sweep(tmp_path / "parallel", *PRESET, *PARALLEL)
    sequential_proc, sequential_args = start_sweep(tmp_path / "sequential", *PRESET)
    parallel = finish(parallel_proc, parallel_args, tmp_path / "parallel", started)
    sequential = finish(sequential_proc, sequential_args, tmp_path / "sequential", started)

    # the joblib launcher ran the jobs, two worker processes at a time
    assert "Joblib.Parallel(n_jobs=2," in parallel.stdout, parallel.output()
    assert "is launching 4 jobs" in parallel.stdout, parallel.output()
    for sweep in (parallel, sequential):
        assert sweep.returncode == 0, sweep.output()
        assert "database is locked" not in (sweep.stdout + sweep.stderr).lower(), sweep.output()
        assert "Traceback" not in sweep.stderr, sweep.output()
        runs = sweep.children()
        assert len(runs) == 4, [(r.info.run_name, r.info.status) for r in runs]
        for run in runs:
            assert run.info.status == "FINISHED", (run.info.run_name, run.info.status, run.data.tags)
            assert run.data.tags.get("run_status") == "finished", run.data.tags
            assert run.data.tags.get("model_uri"), run.data.tags
            assert run.data.tags.get("epochs_run") == "3", run.data.tags
            history = sweep.client().get_metric_history(run.info.run_id, "val_loss")
            assert sorted(m.step for m in history) == [0, 1, 2, 3], run.info.run_name
        assert len(sweep.comparison_rows()) == 4
        assert_parent_report(sweep, "optimizers")

    parallel_mse, sequential_mse = final_metrics(parallel), final_metrics(sequential)
    for name in sorted(OPTIMIZERS):
        assert math.isclose(parallel_mse[name], sequential_mse[name], rel_tol=1e-5), (
            f"{name}: validation_mse_scaled {parallel_mse[name]} in parallel, "
            f"{sequential_mse[name]} sequentially"
        )
