"""Every experiment preset in conf/experiment/ runs, shrunk, as the one command the README gives.

Each preset is a Hydra sweep: its jobs become child runs of one MLflow parent run tagged with
the preset's name, and the sweep ends with a comparison (one row per job) written beside the
sweep and logged on the parent. Command-line sweep overrides take precedence over a preset's
`hydra.sweeper.params`, which is how each preset is shrunk here (fewer epochs, fewer values).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from own_lines import foreign_lines
from shared_data import HOUSING_CSV
from sweep_helpers import (
    ROOT,
    Sweep,
    assert_models_in_store,
    assert_parent_report,
    command_env,
    command_pool,
    hydra_value,
    run_command_checked,
    run_sweep,
)

PRESET_DIR = ROOT / "conf" / "experiment"


def by_param(runs: list[Any], key: str) -> dict[str, Any]:
    """Runs keyed by one param's value (asserting the values are distinct)."""
    keyed = {r.data.params.get(key): r for r in runs}
    values = [r.data.params.get(key) for r in runs]
    assert len(keyed) == len(runs), f"{key} does not tell the runs apart: {values}"
    return keyed


def finite_metrics(run: Any) -> None:
    bad = {k: v for k, v in run.data.metrics.items() if not math.isfinite(v)}
    assert not bad, f"run {run.info.run_name} recorded non-finite metrics {bad}"


def assert_diverged(run: Any, epoch: str = "1") -> None:
    """A diverged run says so: run_status, FAILED, the epoch tagged, no NaN written."""
    tags = run.data.tags
    assert tags.get("run_status") == "diverged", tags
    assert run.info.status == "FAILED", f"{run.info.run_name}: {run.info.status}"
    if epoch:
        assert tags.get("diverged_epoch") == epoch, tags
    finite_metrics(run)


def assert_finished(run: Any) -> None:
    assert run.info.status == "FINISHED", f"{run.info.run_name}: {run.info.status} {run.data.tags}"
    assert run.data.tags.get("run_status") in ("finished", "early_stopped"), run.data.tags
    metric = "validation_log_loss" if "validation_log_loss" in run.data.metrics else "validation_mse_scaled"
    assert math.isfinite(run.data.metrics[metric]), run.data.metrics
    finite_metrics(run)


# ---- per-preset expectations -------------------------------------------------------------------


def check_target_scaling(sweep: Sweep, rows: list[dict[str, str]], runs: list[Any]) -> None:
    runs_by = by_param(runs, "training.scale_target")
    assert set(runs_by) == {"False", "True"}
    assert_diverged(runs_by["False"], epoch="1")
    assert runs_by["False"].data.tags.get("diverged_batch"), runs_by["False"].data.tags
    assert_finished(runs_by["True"])
    status = {r["training.scale_target"]: r["status"] for r in rows}
    assert status == {"False": "diverged", "True": "finished"}, rows
    # the table explains the divergence and ranks the run that converged first
    diverged_row = next(r for r in rows if r["status"] == "diverged")
    assert "non-finite loss in epoch 1" in diverged_row["note"], diverged_row
    assert rows[0]["status"] == "finished", rows


def check_initializers(sweep: Sweep, rows: list[dict[str, str]], runs: list[Any]) -> None:
    runs_by = by_param(runs, "model.initializer")
    assert set(runs_by) == {
        "glorot_uniform",
        "glorot_normal",
        "he_normal",
        "he_uniform",
        "lecun_normal",
        "lecun_uniform",
        "random_normal",
        "zeros",
    }
    for name, run in runs_by.items():
        expected = "tanh" if name == "lecun_normal" else "relu"
        assert run.data.params["model.activation"] == expected, (name, run.data.params["model.activation"])
        assert_finished(run)
    assert "stddev" in runs_by["random_normal"].data.params["model.initializer_args"]
    assert {r["model.initializer"] for r in rows} == set(runs_by)
    lecun = next(r for r in rows if r["model.initializer"] == "lecun_normal")
    assert lecun["model.activation"] == "tanh", lecun


def check_optimizers(sweep: Sweep, rows: list[dict[str, str]], runs: list[Any]) -> None:
    seen = {
        (
            r.data.params["optimizer.name"],
            float(r.data.params["optimizer.learning_rate"]),
            r.data.params["optimizer.schedule.name"],
        )
        for r in runs
    }
    assert seen == {
        ("sgd", 0.01, "none"),
        ("rmsprop", 0.001, "none"),
        ("adam", 0.001, "none"),
        ("momentum", 0.03, "inverse_time"),
    }, seen
    momentum = next(r for r in runs if r.data.params["optimizer.name"] == "momentum")
    assert float(momentum.data.params["optimizer.momentum"]) == 0.9
    for run in runs:
        assert_finished(run)
        assert run.data.params["training.epochs"] == "2"
    assert {r["optimizer.name"] for r in rows} == {"sgd", "rmsprop", "adam", "momentum"}
    schedule = {r["optimizer.name"]: r["optimizer.schedule.name"] for r in rows}
    assert schedule["momentum"] == "inverse_time", rows


def check_learning_rates(sweep: Sweep, rows: list[dict[str, str]], runs: list[Any]) -> None:
    runs_by = {float(k): v for k, v in by_param(runs, "optimizer.learning_rate").items()}
    assert set(runs_by) == {1e-6, 1e-2, 1.0}
    assert all(r.data.params["optimizer.name"] == "sgd" for r in runs)
    assert_diverged(runs_by[1.0], epoch="")
    assert_finished(runs_by[1e-6])
    assert_finished(runs_by[1e-2])
    status = {float(r["optimizer.learning_rate"]): r["status"] for r in rows}
    assert status == {1e-6: "finished", 1e-2: "finished", 1.0: "diverged"}, rows


def check_early_stopping(sweep: Sweep, rows: list[dict[str, str]], runs: list[Any]) -> None:
    epochs = 40
    stopped = 0
    for run in runs:
        params, tags = run.data.params, run.data.tags
        assert_finished(run)
        if params["training.early_stopping.enabled"] == "False":
            assert tags["run_status"] == "finished", tags
            assert tags["epochs_run"] == str(epochs), tags
            assert "stopped_epoch" not in tags and "best_epoch" not in tags, tags
            continue
        if tags["run_status"] == "early_stopped":
            stopped += 1
            stop, best = int(tags["stopped_epoch"]), int(tags["best_epoch"])
            patience = int(params["training.early_stopping.patience"])
            assert 1 <= best < stop < epochs, tags
            assert stop - best >= patience, (patience, tags)
            assert int(tags["epochs_run"]) == stop, tags
            history = sweep.client().get_metric_history(run.info.run_id, "val_loss")
            assert max(m.step for m in history) == stop, "val_loss recorded past the stopping epoch"
        else:
            assert tags["run_status"] == "finished" and tags["epochs_run"] == str(epochs), tags
            assert "stopped_epoch" not in tags, tags
    patience_values = sorted(
        int(r.data.params["training.early_stopping.patience"])
        for r in runs
        if r.data.params["training.early_stopping.enabled"] == "True"
    )
    assert patience_values == [2, 3, 10], patience_values
    assert stopped >= 1, "no run stopped early within 40 epochs, not even with patience 2"
    for row in rows:
        if row["status"] == "early_stopped":
            assert row["note"].startswith("stopped at epoch"), row


def check_capacity_width(sweep: Sweep, rows: list[dict[str, str]], runs: list[Any]) -> None:
    seen = sorted((r.data.params["model.hidden_units"], r.data.params["training.seed"]) for r in runs)
    assert seen == [("[2]", "1"), ("[2]", "2"), ("[8]", "1"), ("[8]", "2")], seen
    assert all(r.data.params["dataset.name"] == "synthetic" for r in runs)
    for run in runs:
        assert_finished(run)
    text = sweep.comparison_md()
    assert "## Mean and spread over seeds" in text, text
    summary = text.split("## Mean and spread over seeds", 1)[1]
    body = [line for line in summary.splitlines() if line.startswith("| [")]
    assert len(body) == 2, summary  # one line per width, its two seeds pooled
    assert "validation_mse_scaled_mean" in summary and "validation_mse_scaled_std" in summary, summary


def check_capacity_depth(sweep: Sweep, rows: list[dict[str, str]], runs: list[Any]) -> None:
    units = sorted(r.data.params["model.hidden_units"] for r in runs)
    assert units == sorted(
        ["[16]", "[16, 16]", "[16, 16, 16]", "[16, 16, 16, 16]", "[1024, 1024, 1024, 1024, 1024]"]
    ), units
    assert {r["model.hidden_units"] for r in rows} == set(units)
    for run in runs:
        assert_finished(run)
        assert run.data.params["dataset.synthetic.frequency"] == "2.0"  # two periods: depth has work to do


def check_regularization(sweep: Sweep, rows: list[dict[str, str]], runs: list[Any]) -> None:
    pairs = {(float(r.data.params["model.l1"]), float(r.data.params["model.l2"])) for r in runs}
    assert pairs == {(0.0, 0.0), (0.0, 0.01), (0.0, 0.001), (0.01, 0.0), (0.001, 0.0)}, pairs
    for run in runs:
        assert_finished(run)
        # the network that overfits in lesson 5, on its data
        assert run.data.params["model.hidden_units"] == "[1024, 1024, 1024, 1024, 1024]"
        assert run.data.params["dataset.name"] == "synthetic"
        # the penalty is in the loss; the plain MSE is recorded beside it, and the weights' size
        assert {"validation_mse_scaled", "kernel_norm_end", "near_zero_weights_end"} <= set(run.data.metrics)
    # even after 2 epochs, the strong L1 run has more weights near zero than the unpenalized one
    near_zero = {
        (float(r.data.params["model.l1"]), float(r.data.params["model.l2"])): r.data.metrics[
            "near_zero_weights_end"
        ]
        for r in runs
    }
    assert near_zero[(0.01, 0.0)] > near_zero[(0.0, 0.0)], near_zero


def check_cv_rows(rows: list[dict[str, str]], runs: list[Any]) -> None:
    """Every job cross-validated (3 folds) and trained: a finite CV score, better than the mean."""
    for row in rows:
        assert row["status"] == "finished", f"{row['run']}: {row['status']} ({row['note']})"
        assert row.get("cv_val_mse_mean"), row
        score = float(row["cv_val_mse_mean"])
        # on the standardized target, predicting the training mean scores about 1.0
        assert math.isfinite(score) and score < 1.0, (
            f"{row['run']}: cv_val_mse_mean {score}, worse than predicting the mean (1.0)"
        )
    for run in runs:
        assert run.data.params["training.cv_folds"] == "3"
        assert {f"cv_fold{i}_val_mse" for i in (1, 2, 3)} <= set(run.data.metrics), run.data.metrics
        # the same folds in the target's units (dollars for California housing): comparable
        # with any search, whatever its scaling
        m = run.data.metrics
        for i in (1, 2, 3):  # RMSE in dollars = sqrt(scaled MSE) x the fold's target std (~115,000 $)
            ratio = m[f"cv_fold{i}_val_rmse_original"] / math.sqrt(m[f"cv_fold{i}_val_mse"])
            assert 100_000 < ratio < 130_000, (run.info.run_name, i, ratio)
        assert run.data.params["dataset.name"] == "california_housing"
        assert_finished(run)


def check_random_search(sweep: Sweep, rows: list[dict[str, str]], runs: list[Any]) -> None:
    check_cv_rows(rows, runs)
    for run in runs:
        assert 0 <= int(run.data.params["model.depth"]) <= 3
        assert 1 <= int(run.data.params["model.width"]) <= 99
        assert 3e-4 <= float(run.data.params["optimizer.learning_rate"]) <= 3e-2
    results = sweep.sweep_dir / "optimization_results.yaml"
    assert results.is_file(), sweep.output()
    best = yaml.safe_load(results.read_text())
    assert set(best["best_params"]) == {"model.depth", "model.width", "optimizer.learning_rate"}, best
    # the best value Optuna reports is the best cross-validated MSE of the two runs
    scores = [float(r["cv_val_mse_mean"]) for r in rows]
    assert math.isclose(float(best["best_value"]), min(scores), rel_tol=1e-6), (best, scores)
    parent = sweep.parent()
    assert "optimization_results.yaml" in sweep.artifact_paths(parent.info.run_id), sweep.artifact_paths(
        parent.info.run_id
    )


def check_tuned_search(sweep: Sweep, rows: list[dict[str, str]], runs: list[Any]) -> None:
    check_random_search(sweep, rows, runs)  # the same space, budget and records
    for run in runs:
        params = run.data.params
        assert (params["optimizer.name"], params["model.activation"], params["model.initializer"]) == (
            "adam",
            "elu",
            "he_normal",
        ), params
        assert (
            params["dataset.log_features"] == "['total_rooms', 'total_bedrooms', 'population', 'households']"
        )
        assert params["dataset.cluster_similarity.columns"] == "['latitude', 'longitude']"
        assert params["dataset.cluster_similarity.clusters"] == "10"
    job_config = yaml.safe_load((sweep.sweep_dir / "0" / ".hydra" / "hydra.yaml").read_text())
    sampler = job_config["hydra"]["sweeper"]["sampler"]
    assert sampler["_target_"] == "optuna.samplers.TPESampler" and sampler["n_startup_trials"] == 4, sampler


def check_grid_search(sweep: Sweep, rows: list[dict[str, str]], runs: list[Any]) -> None:
    seen = sorted(
        (
            r.data.params["model.depth"],
            r.data.params["model.width"],
            float(r.data.params["optimizer.learning_rate"]),
            r.data.params["model.hidden_units"],
        )
        for r in runs
    )
    assert seen == [("0", "16", 0.03, "[]"), ("1", "16", 0.03, "[16]")], seen
    # lr 3e-2 is in the preset's grid (and the random search's range): both networks must train
    check_cv_rows(rows, runs)


def check_digits_mlp(sweep: Sweep, rows: list[dict[str, str]], runs: list[Any]) -> None:
    assert sorted(r.data.params["training.seed"] for r in runs) == ["1", "2"]
    for run in runs:
        params, tags, metrics = run.data.params, run.data.tags, run.data.metrics
        assert (params["dataset.name"], params["dataset.task"]) == ("digits", "multiclass"), params
        assert (params["model.hidden_units"], params["model.activation"]) == ("[50, 50]", "relu"), params
        assert params["optimizer.name"] == "adam" and params["split.validation"] == "0.3", params
        assert params["training.early_stopping.patience"] == "2", params
        # early stopping ends training well before the cap of 100 epochs and restores the best epoch
        assert tags["run_status"] == "early_stopped", tags
        assert int(tags["best_epoch"]) + 2 == int(tags["stopped_epoch"]) < 100, tags
        assert metrics["validation_accuracy"] > 0.9, metrics
    assert "sorted by validation_log_loss" in sweep.stdout, sweep.output()
    assert rows[0]["validation_accuracy"], rows


def check_penalized_classifier(sweep: Sweep, rows: list[dict[str, str]], runs: list[Any]) -> None:
    runs_by = {float(k): v for k, v in by_param(runs, "model.l2").items()}
    assert set(runs_by) == {0.0, 0.01}
    for run in runs:
        assert run.data.params["model.hidden_units"] == "[1024, 1024, 1024, 1024, 1024]"
        assert run.data.params["dataset.name"] == "moons"
        assert_finished(run)
        assert "figures/decision_boundary.png" in sweep.artifact_paths(run.info.run_id, "figures")
    # the penalty shrinks the weights: the penalized run's kernels are smaller at the end
    norm = "diag/hidden_1/weight_norm"
    if all(norm in r.data.metrics for r in runs):
        assert runs_by[0.01].data.metrics[norm] < runs_by[0.0].data.metrics[norm]
    assert all(r["validation_accuracy"] for r in rows), rows
    # the lesson's gap reads the final model's training accuracy, recorded apart from the
    # series of each epoch's running accuracy (steps 0..2, each once)
    client = sweep.client()
    for run in runs:
        folder = sweep.store / "downloads" / run.info.run_id
        folder.mkdir(parents=True)
        report = json.loads(
            Path(client.download_artifacts(run.info.run_id, "reports/metrics.json", str(folder))).read_text()
        )
        assert run.data.metrics["train_accuracy_final"] == pytest.approx(
            report["train"]["accuracy"], rel=1e-5
        )
        series = client.get_metric_history(run.info.run_id, "train_accuracy")
        assert sorted(m.step for m in series) == [0, 1, 2], [(m.step, m.value) for m in series]


def start_value(sweep: Sweep, run: Any, key: str) -> float:
    """A metric's value at step 0, the network as initialized."""
    return next(m.value for m in sweep.client().get_metric_history(run.info.run_id, key) if m.step == 0)


def check_signal_propagation(sweep: Sweep, rows: list[dict[str, str]], runs: list[Any]) -> None:
    """The lesson at initialization, read from the runs' step 0: He keeps a ReLU net's signal
    alive through 12 layers, small random weights let it die out, zeros leave every unit the
    same (no spread at all); the picture of it is drawn."""
    pairs = {(r.data.params["model.initializer"], r.data.params["model.activation"]): r for r in runs}
    statuses = {pair: r.data.tags.get("run_status") for pair, r in pairs.items()}
    assert len(pairs) == 10 and set(statuses.values()) <= {"finished", "diverged"}, statuses

    def spread(pair: tuple[str, str], layer: int) -> float:
        return start_value(sweep, pairs[pair], f"diag/hidden_{layer}/act_std")

    he = [spread(("he_normal", "relu"), k) for k in (1, 12)]
    assert 0.1 < he[1] / he[0] < 10, he  # within a factor of 10 of the first layer's, 12 deep
    small = [spread(("random_normal", "relu"), k) for k in (1, 12)]
    assert small[1] / small[0] < 1e-6, small  # N(0, 0.05^2): the signal vanishes with depth
    assert all(spread(("zeros", "relu"), k) == 0.0 for k in (1, 6, 12))  # every unit the same: 0
    assert start_value(sweep, pairs[("zeros", "tanh")], "diag/hidden_1/grad_norm") == 0.0
    assert (sweep.sweep_dir / "comparison" / "signal_through_depth.png").stat().st_size > 10_000


@dataclass(frozen=True)
class Preset:
    overrides: tuple[str, ...]
    rows: int
    check: Callable[[Sweep, list[dict[str, str]], list[Any]], None]
    housing: bool = False
    returncode: int = 0


PRESETS: dict[str, Preset] = {
    "target_scaling": Preset(("training.epochs=2",), 2, check_target_scaling),
    "initializers": Preset(("training.epochs=2",), 8, check_initializers),
    "optimizers": Preset(("training.epochs=2",), 4, check_optimizers),
    "learning_rates": Preset(("training.epochs=2",), 3, check_learning_rates),
    "early_stopping": Preset(("training.epochs=40",), 4, check_early_stopping),
    "capacity_width": Preset(
        ("training.epochs=2", "model.hidden_units=[2],[8]", "training.seed=1,2"), 4, check_capacity_width
    ),
    "capacity_depth": Preset(("training.epochs=2", "training.seed=1"), 5, check_capacity_depth),
    "regularization": Preset(("training.epochs=2", "training.seed=1"), 5, check_regularization),
    "random_search": Preset(
        ("training.epochs=2", "hydra.sweeper.n_trials=2"), 2, check_random_search, housing=True
    ),
    "tuned_search": Preset(
        ("training.epochs=2", "hydra.sweeper.n_trials=2"), 2, check_tuned_search, housing=True
    ),
    "grid_search": Preset(
        ("training.epochs=1", "model.depth=0,1", "model.width=16", "optimizer.learning_rate=3e-2"),
        2,
        check_grid_search,
        housing=True,
    ),
    "digits_mlp": Preset(("training.seed=1,2",), 2, check_digits_mlp),
    "penalized_classifier": Preset(
        # 100 training rows as in the lesson, 200 validation rows instead of 2,000, 2 epochs
        (
            "training.epochs=2",
            "dataset.synthetic.n_samples=400",
            "split.validation=200",
            "model.l2=0.0,0.01",
            "training.seed=1",
            "training.diagnostics=true",
        ),
        2,
        check_penalized_classifier,
    ),
    "signal_propagation": Preset(("training.epochs=1",), 10, check_signal_propagation),
}


def test_every_preset_is_covered() -> None:
    on_disk = sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))
    assert on_disk == sorted(PRESETS), "a preset in conf/experiment/ has no shrunk run in this test"


def selected_presets(session: pytest.Session) -> list[str]:
    """The presets whose shrunk sweep this session's selected tests in this module will ask for."""
    names: list[str] = []
    for item in session.items:
        if item.path != Path(__file__) or "preset_sweeps" not in getattr(item, "fixturenames", ()):
            continue
        callspec = getattr(item, "callspec", None)
        name = callspec.params.get("name") if callspec is not None else "optimizers"
        if name in PRESETS and name not in names:
            names.append(name)
    return names


@pytest.fixture(scope="module")
def preset_sweeps(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Sweep]]:
    """Run each selected preset's shrunk sweep once per module (the compare test reuses one).

    The sweeps start together, two at a time (`command_pool`). A housing preset starts
    only where the shared housing data is present (its test skips otherwise).
    """
    pool = command_pool()
    started: dict[str, Future[Sweep]] = {}

    def start(name: str) -> Future[Sweep]:
        if name not in started:
            preset = PRESETS[name]
            extra = [f"dataset.path={hydra_value(HOUSING_CSV)}"] if preset.housing else []
            store = tmp_path_factory.mktemp(f"preset-{name}")
            started[name] = pool.submit(run_sweep, store, f"+experiment={name}", *preset.overrides, *extra)
        return started[name]

    for name in selected_presets(request.session):
        if not PRESETS[name].housing or HOUSING_CSV.is_file():
            start(name)

    def sweep(name: str) -> Sweep:
        return start(name).result()

    yield sweep
    pool.shutdown(wait=True, cancel_futures=True)


# Presets whose code paths the default run already covers (a config group swept, divergence,
# several layers) run only with the slow tests, so `make test` stays within a few minutes.
SLOW = {
    "initializers",
    "learning_rates",
    "capacity_depth",
    "regularization",
    "penalized_classifier",
    "signal_propagation",
}


@pytest.mark.parametrize(
    "name", [pytest.param(n, id=n, marks=[pytest.mark.slow] if n in SLOW else []) for n in PRESETS]
)
def test_preset_runs_shrunk_and_compares_every_job(
    name: str, preset_sweeps: Callable[..., Sweep], request: pytest.FixtureRequest
) -> None:
    preset = PRESETS[name]
    if preset.housing:
        request.getfixturevalue("housing_csv")  # skips where the shared housing data is absent
    sweep = preset_sweeps(name)

    assert sweep.returncode == preset.returncode, sweep.output()
    assert "Traceback" not in sweep.stderr, sweep.output()
    assert "job(s) failed" not in sweep.stderr, sweep.output()
    assert foreign_lines(sweep.stderr) == [], sweep.output()  # no TensorFlow, absl or Optuna line

    rows = sweep.comparison_rows()
    assert len(rows) == preset.rows, f"{len(rows)} comparison rows, want {preset.rows}\n{sweep.output()}"
    parent = assert_parent_report(sweep, name)
    assert parent.data.metrics.get("jobs") == preset.rows, parent.data.metrics
    assert parent.data.metrics.get("jobs_failed") == 0, parent.data.metrics

    runs = sweep.children()
    assert len(runs) == preset.rows, [r.info.run_name for r in runs]
    assert {r["run_id"] for r in rows} == {r.info.run_id for r in runs}, "table rows are not the sweep's runs"
    for run in runs:
        assert run.data.tags.get("model_uri") or run.data.tags.get("run_status") == "diverged", run.data.tags
    # the terminal shows the same table
    assert f"{name}: {preset.rows} run(s), sorted by" in sweep.stdout, sweep.output()

    preset.check(sweep, rows, runs)


def test_compare_reprints_the_latest_preset_sweep(
    preset_sweeps: Callable[..., Sweep], tmp_path: Path
) -> None:
    """`python -m pipeline.compare --preset optimizers` re-prints the sweep's table from MLflow."""
    sweep = preset_sweeps("optimizers")
    assert sweep.returncode == 0, sweep.output()
    params = tmp_path / "params.yaml"
    env = command_env()
    run_command_checked(
        ["python", "-m", "pipeline.compose", f"tracking.uri={sweep.uri}", "--output", str(params)], env
    )
    out = tmp_path / "compare"
    columns = "run,optimizer.name,validation_mse_scaled,status"
    result = run_command_checked(
        ["python", "-m", "pipeline.compare", "--preset", "optimizers", "--columns", columns, "--width", "100"]
        + ["--params", str(params), "--out", str(out)],
        env,
    )
    rows = sweep.comparison_rows()
    parent = sweep.parent()
    assert result.stdout.startswith(f"{parent.info.run_name}: 4 run(s), sorted by validation_mse_scaled"), (
        result.stdout
    )
    lines = result.stdout.splitlines()
    assert lines[1].split() == ["run", "optimizer", "validation_mse_scaled", "status"], result.stdout
    assert all(len(line) <= 100 for line in lines[: 2 + len(rows)]), result.stdout  # the title and table
    printed_runs = [line.split()[0] for line in lines[2 : 2 + len(rows)]]
    assert printed_runs == [r["run"] for r in rows], (printed_runs, rows)  # same runs, same order
    for name in ("comparison.csv", "comparison.md", "learning_curves.png"):
        assert (out / name).is_file(), sorted(p.name for p in out.iterdir())


def test_preset_models_are_logged_with_their_runs(preset_sweeps: Callable[..., Sweep]) -> None:
    """Each job's model is in the sweep's experiment, its files in paths.mlflow_artifacts."""
    sweep = preset_sweeps("optimizers")
    assert sweep.returncode == 0, sweep.output()
    runs = sweep.children()
    assert len(runs) == 4
    assert_models_in_store(sweep, runs)
    stray = sorted(str(p.relative_to(sweep.store)) for p in (sweep.store / "mlruns").rglob("MLmodel"))
    assert not stray, f"models written to ./mlruns of the process, outside the configured store: {stray}"


@pytest.mark.parametrize(
    ("preset", "overrides", "jobs"),
    [
        pytest.param("optimizers", ("dataset=digits", "training.epochs=2"), 4, marks=pytest.mark.slow),
        pytest.param(
            "random_search",
            ("dataset=breast_cancer", "training.epochs=2", "hydra.sweeper.n_trials=2"),
            2,
            marks=pytest.mark.slow,
        ),
    ],
)
def test_a_regression_preset_runs_on_a_classification_data_set(
    preset: str, overrides: tuple[str, ...], jobs: int, tmp_path: Path
) -> None:
    """Any preset takes `dataset=<a classification data set>`: its runs train classifiers,
    ranked by validation log loss (cross-validated, stratified, for the search), accuracy shown."""
    sweep = run_sweep(tmp_path, f"+experiment={preset}", *overrides)
    assert sweep.returncode == 0, sweep.output()
    rows = sweep.comparison_rows()
    assert len(rows) == jobs, rows
    cv = preset == "random_search"
    metric = "cv_val_log_loss_mean" if cv else "validation_log_loss"
    assert f"sorted by {metric}" in sweep.stdout, sweep.output()
    scores = [float(r[metric]) for r in rows]
    assert scores == sorted(scores) and all(math.isfinite(x) for x in scores), rows
    for run in sweep.children():
        assert_finished(run)
        assert run.data.metrics["validation_accuracy"] > 0.0
        if cv:
            assert {"cv_fold1_val_accuracy", "cv_val_accuracy_mean"} <= set(run.data.metrics)
    if cv:  # Optuna minimized the cross-validated log loss
        best = yaml.safe_load((sweep.sweep_dir / "optimization_results.yaml").read_text())
        assert math.isclose(float(best["best_value"]), min(scores), rel_tol=1e-6), (best, scores)
