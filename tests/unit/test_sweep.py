"""The sweep callback's decisions (pipeline.experiments.sweep, sweep_run): which jobs failed, which
tracking a remote launcher needs, the runs it ends."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.config import TrackingConfig
from pipeline.experiments.sweep import remote_tracking_error
from pipeline.experiments.sweep_run import UNFINISHED, end_unfinished, failed_children
from pipeline.tracking.queries import RunSummary

RAY = "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher"
JOBLIB = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"


def tracking(**fields) -> TrackingConfig:
    return TrackingConfig(experiment="e", run_name="r", **fields)


def run(run_id: str, status_tag: str, error: str | None = None) -> RunSummary:
    tags = {"run_status": status_tag} | ({"error": error} if error else {})
    return RunSummary(run_id, f"job-{run_id}", "FAILED", {}, {}, tags, 0)


def test_a_ray_sweep_must_record_to_a_tracking_server():
    assert "tracking.uri is unset" in remote_tracking_error(RAY, tracking())
    assert "sqlite:///x.db" in remote_tracking_error(RAY, tracking(uri="sqlite:///x.db"))
    assert remote_tracking_error(RAY, tracking(uri="http://127.0.0.1:5000")) is None
    assert remote_tracking_error(RAY, tracking(uri="https://mlflow.example")) is None
    assert remote_tracking_error(RAY, tracking(enabled=False)) is None


def test_local_launchers_may_use_the_local_store():
    assert remote_tracking_error(JOBLIB, tracking()) is None
    assert remote_tracking_error("None", tracking()) is None


def test_failed_jobs_come_from_job_files_and_from_runs_that_ran_elsewhere():
    records = [
        {"job": "0", "status": "failed", "run_id": "a", "error": "boom", "overrides": ["x=1"]},
        {"job": "1", "status": "finished", "run_id": "b"},
    ]
    runs = [run("a", "failed", "boom"), run("c", "killed"), run("d", "diverged"), run("e", "failed", "oops")]
    failed = failed_children(runs, records)
    assert [f["run_id"] for f in failed] == ["a", "c", "e"]  # a counted once; diverged is a result
    assert failed[2]["error"] == "oops" and failed[2]["job"] == "job-e"


def test_children_left_running_are_failed_with_the_reason(make_config, tmp_path, store):
    from mlflow import MlflowClient

    uri = store
    client = MlflowClient(uri)
    experiment = client.create_experiment("e", artifact_location=(tmp_path / "artifacts").as_uri())
    running = client.create_run(experiment).info.run_id
    finished = client.create_run(experiment).info.run_id
    client.set_terminated(finished, "FINISHED")
    runs = [
        RunSummary(running, "job-0", "RUNNING", {}, {}, {}, 0),
        RunSummary(finished, "job-1", "FINISHED", {}, {}, {"run_status": "finished"}, 0),
    ]
    ended = end_unfinished(tracking(uri=uri), make_config().paths, runs)
    assert [r.status for r in ended] == ["FAILED", "FINISHED"]
    assert ended[0].tags["run_status"] == "failed" and ended[0].tags["error"] == UNFINISHED
    stored = client.get_run(running)
    assert stored.info.status == "FAILED" and stored.data.tags["run_status"] == "failed"
    assert stored.data.tags["error"] == UNFINISHED
    assert client.get_run(finished).info.status == "FINISHED"
    assert failed_children(ended, []) == [
        {"job": "job-0", "run_id": running, "error": ended[0].tags["error"], "overrides": []}
    ]


@pytest.mark.parametrize(
    ("params", "overrides", "jobs"),
    [
        (None, ["optimizer=sgd,adam", "training.seed=1,2,3", "training.epochs=2"], 6),
        ({"+init": "zeros,he_uniform"}, ["training.seed=range(0,4)"], 8),
        ({"model.l2": "0,0.01"}, ["model.l2=0,0.01,0.1"], 3),  # the command line wins over the preset
        (None, ["training.epochs=5"], 1),
    ],
)
def test_sweep_size_counts_the_jobs_of_the_basic_sweeper(
    params: dict[str, str] | None, overrides: list[str], jobs: int
) -> None:
    from omegaconf import OmegaConf

    from pipeline.experiments.sweep import sweep_size

    sweeper = {"_target_": "hydra._internal.core_plugins.basic_sweeper.BasicSweeper", "params": params}
    config = OmegaConf.create({"hydra": {"sweeper": sweeper, "overrides": {"task": overrides}}})
    assert sweep_size(config) == jobs


def test_sweep_size_of_an_optuna_search_is_its_trials() -> None:
    from omegaconf import OmegaConf

    from pipeline.experiments.sweep import sweep_size

    sweeper = {"_target_": "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper", "n_trials": 10}
    config = OmegaConf.create({"hydra": {"sweeper": sweeper, "overrides": {"task": []}}})
    assert sweep_size(config) == 10


def test_a_grid_expands_as_hydras_basic_sweeper_does() -> None:
    """The preset's params first, then the command line's; a key given again keeps its place
    and takes the new values; the first key varies slowest."""
    from pipeline.experiments.grid import grid_jobs

    jobs = grid_jobs(
        {"optimizer": "sgd,adam", "model.width": "8,16"},
        ["+experiment=optimizers", "model.width=4", "training.seed=1,2"],
    )
    assert jobs == [
        ["optimizer=sgd", "model.width=4", "+experiment=optimizers", "training.seed=1"],
        ["optimizer=sgd", "model.width=4", "+experiment=optimizers", "training.seed=2"],
        ["optimizer=adam", "model.width=4", "+experiment=optimizers", "training.seed=1"],
        ["optimizer=adam", "model.width=4", "+experiment=optimizers", "training.seed=2"],
    ]
    assert grid_jobs({}, ["training.seed=range(3)"]) == [[f"training.seed={s}"] for s in range(3)]


def test_a_composition_error_is_one_line_naming_the_key() -> None:
    from pipeline.core.errors import PipelineError
    from pipeline.experiments.grid import compose

    with pytest.raises(PipelineError) as err:
        compose(Path(__file__).resolve().parents[2] / "conf", ["training.epochz=3"])
    assert "\n" not in str(err.value) and "training.epochz" in str(err.value), str(err.value)
