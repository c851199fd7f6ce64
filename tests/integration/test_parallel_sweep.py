"""A preset run in parallel (joblib, 2 workers) against one SQLite store.

The jobs share the store and the parent run: nothing may lock, every job must finish, and
the results must be the ones the same sweep gives when its jobs run one after another, and
the ones a single run of the same configuration gives (the same seed, the same numbers,
whichever launcher ran it; the Ray launcher's case is tests/reliability/test_ray_cluster.py).
"""

from __future__ import annotations

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


SCORES = ("train_mse_scaled", "validation_mse_scaled", "test_mse_scaled")


def start_sweep(
    store: Path, *overrides: str, multirun: bool = True
) -> tuple[subprocess.Popen[str], list[str]]:
    create_store(store)
    mode = ["-m"] if multirun else [f"hydra.run.dir={store / 'run'}"]
    args = ["python", "-m", "pipeline.run", *mode, *overrides, *sweep_overrides(store)]
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


def final_metrics(sweep: Sweep) -> dict[str, dict[str, float]]:
    runs = sweep.children()
    assert len(runs) == 4, [r.info.run_name for r in runs]
    by_name = {r.data.params["optimizer.name"]: r for r in runs}
    assert set(by_name) == OPTIMIZERS, sorted(by_name)
    return {name: {k: run.data.metrics[k] for k in SCORES} for name, run in by_name.items()}


def test_parallel_sweep_matches_the_sequential_one(tmp_path: Path) -> None:
    # The two sweeps use separate stores, so they may as well run at the same time.
    started = time.monotonic()
    parallel_proc, parallel_args = start_sweep(tmp_path / "parallel", *PRESET, *PARALLEL)
    sequential_proc, sequential_args = start_sweep(tmp_path / "sequential", *PRESET)
    single_proc, single_args = start_sweep(tmp_path / "single", *PRESET, "optimizer=adam", multirun=False)
    parallel = finish(parallel_proc, parallel_args, tmp_path / "parallel", started)
    sequential = finish(sequential_proc, sequential_args, tmp_path / "sequential", started)
    single = finish(single_proc, single_args, tmp_path / "single", started)
    assert single.returncode == 0, single.output()

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

    # the same numbers, to the last bit, whichever way the job ran
    parallel_scores, sequential_scores = final_metrics(parallel), final_metrics(sequential)
    for name in sorted(OPTIMIZERS):
        assert parallel_scores[name] == sequential_scores[name], (
            f"{name}: {parallel_scores[name]} in parallel, {sequential_scores[name]} sequentially"
        )
    (alone,) = single.all_runs()
    assert {k: alone.data.metrics[k] for k in SCORES} == sequential_scores["adam"], "a single run differs"
