"""`pipeline.api` as a notebook uses it: the same job as `python -m pipeline.run` (same
numbers to the last bit, same records), two calls in one process that share nothing they
should not, a user's mistake as one ApiError line, a sweep read back with `api.runs`.

Every call gets overrides that keep what it writes in tmp_path (its store, data, outputs).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import mlflow
import pytest
from hydra.core.global_hydra import GlobalHydra
from sweep_helpers import ROOT, command_env, create_store, hydra_value, sweep_overrides

from pipeline import api

EPOCHS = "training.epochs=3"
VARYING_TAGS = {"process", "mlflow.source.git.commit"}  # which process, which checkout
TIMES = ("time", "seconds", "_s")  # metrics that measure the clock, not the network


@pytest.fixture(autouse=True)
def mlflow_uri_as_found():
    """The API sets MLflow's tracking URI in this process, as it does in a kernel (its
    docstring); later tests in the same pytest process find it as it was."""
    found = os.environ.get("MLFLOW_TRACKING_URI")
    yield
    mlflow.set_tracking_uri(None)  # MLflow's global and the environment variable it set
    if found is not None:
        os.environ["MLFLOW_TRACKING_URI"] = found


def private(store: Path, create: bool = True) -> list[str]:
    """Overrides that send the store, the data, the sweep and the run folders into `store`
    (created first, with `create`)."""
    if create:
        create_store(store)
    return [EPOCHS, *sweep_overrides(store), f"hydra.run.dir={hydra_value(store / 'run')}"]


def numbers(metrics: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if not any(t in k for t in TIMES)}


@pytest.mark.slow  # a CLI process: Python, TensorFlow, MLflow started again (~20 s)
def test_api_run_records_what_the_cli_records_to_the_last_bit(tmp_path: Path) -> None:
    overrides = [*private(tmp_path / "store"), "training.seed=7"]
    cli = subprocess.run(
        ["python", "-m", "pipeline.run", *overrides, f"hydra.run.dir={hydra_value(tmp_path / 'cli')}"],
        cwd=ROOT,
        env=command_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert cli.returncode == 0, cli.stderr[-3000:]

    run = api.run(*overrides)

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("keras-regression")
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
    assert len(runs) == 2 and runs[1].info.run_id == run.run_id
    by_cli, by_api = runs
    assert run.status == "finished" and by_api.info.status == "FINISHED"
    assert numbers(by_api.data.metrics) == numbers(by_cli.data.metrics)  # every bit
    assert run.metrics == by_api.data.metrics
    assert by_api.data.params == by_cli.data.params
    assert set(by_api.data.tags) == set(by_cli.data.tags)
    same = set(by_cli.data.tags) - VARYING_TAGS - {"mlflow.source.name", "model_uri", "host"}
    assert {k: by_api.data.tags[k] for k in same if "time" not in k} == {
        k: by_cli.data.tags[k] for k in same if "time" not in k
    }
    assert by_api.data.tags["mlflow.source.name"].startswith("python -m pipeline.run ")
    # what a notebook reads: the history from epoch 0, the pictures, the config
    assert list(run.history["epoch"]) == [0, 1, 2, 3]
    assert {p.name for p in run.figures} >= {"learning_curves.png", "predicted_vs_actual.png"}
    assert run.config is not None and run.config.training.seed == 7
    assert run.out_dir.parent == tmp_path / "store"


def test_two_runs_in_one_process_share_no_state(tmp_path: Path) -> None:
    overrides = private(tmp_path / "store")
    results = []
    for seed in (1, 2, 1):
        assert mlflow.active_run() is None
        results.append(api.run(*overrides, f"training.seed={seed}"))
        assert not GlobalHydra.instance().is_initialized()
    first, other, again = results
    assert len({first.run_id, other.run_id, again.run_id}) == 3
    assert len({first.out_dir, other.out_dir, again.out_dir}) == 3  # same second: another folder
    assert numbers(again.metrics) == numbers(first.metrics)
    assert again.history.equals(first.history)
    assert numbers(other.metrics) != numbers(first.metrics)
    assert mlflow.active_run() is None


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("optimizer=adamax", "optimizer"),
        ("training.epochz=3", "training.epochz"),
        ("dataset.separator=;,", "dataset.separator"),
        ("optimizer.learning_rate=-1", "optimizer.learning_rate"),
        ("training.seed=1,2", "training.seed"),
    ],
)
def test_a_bad_override_is_one_api_error_naming_its_key(tmp_path: Path, override: str, named: str) -> None:
    with pytest.raises(api.ApiError) as raised:
        api.run(*private(tmp_path / "store", create=False), override)
    message = str(raised.value)
    assert "\n" not in message and named in message, message
    assert not message.startswith("error:")
    assert not GlobalHydra.instance().is_initialized()
    assert not (tmp_path / "store" / "run").exists() or override.startswith("optimizer.learning")


def test_a_grid_sweep_records_its_runs_parent_and_comparison(tmp_path: Path) -> None:
    store = tmp_path / "store"
    sweep = api.sweep("optimizer=sgd,adam", "training.seed=1,2", *private(store))

    assert sweep.parent_run_id is not None and sweep.failed == []
    assert [r.status for r in sweep.runs] == ["finished"] * 4
    assert [r.config.optimizer.name for r in sweep.runs] == ["sgd", "sgd", "adam", "adam"]  # Hydra's order
    assert len(sweep.table) == 4
    written = (sweep.out_dir / "comparison" / "comparison.csv").read_text().splitlines()[0]
    assert list(sweep.table.columns) == written.split(",")
    assert {p.name for p in sweep.figures} >= {"learning_curves.png", "metric_vs_param.png"}
    assert sweep.verdict is not None and "2 seeds" in sweep.verdict
    assert sorted(p.name for p in sweep.out_dir.iterdir() if p.name.isdigit()) == ["0", "1", "2", "3"]

    recorded = api.runs(*private(store), sweep=sweep.parent_run_id)
    assert sorted(recorded["run_id"]) == sorted(r.run_id for r in sweep.runs)
    assert set(recorded["params.optimizer.name"]) == {"sgd", "adam"}
    assert "metrics.validation_mse_scaled" in recorded.columns
    parent = mlflow.MlflowClient(f"sqlite:///{store / 'mlflow.db'}").get_run(sweep.parent_run_id)
    assert parent.info.status == "FINISHED"
    assert len(api.runs(*private(store))) == 5  # the four jobs and their parent


def test_a_search_preset_says_in_one_line_that_it_runs_from_the_cli(tmp_path: Path) -> None:
    with pytest.raises(api.ApiError) as raised:
        api.sweep("+experiment=random_search", *private(tmp_path / "store", create=False))
    message = str(raised.value)
    assert "\n" not in message and "python -m pipeline.run -m +experiment=random_search" in message
    assert not (tmp_path / "store" / "sweep").exists()
