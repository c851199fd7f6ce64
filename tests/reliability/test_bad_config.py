"""Bad configuration is refused before any data is read or any run is made.

Every scenario points `dataset.path` at a file that does not exist: had anything tried to read
data first, the message would be about that file. Instead the one line must name the key,
and the valid names or the valid range; no MLflow store is even created.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest
from reliability_helpers import ROOT, error_line, store_runs, subprocess_env

from pipeline.core.config import Activation, DatasetName, Initializer, OptimizerName, ScheduleName

MISSING_DATA = ("dataset=csv", "dataset.target=y")


def names(literal: object) -> list[str]:
    return [repr(name) for name in get_args(literal)]


SCENARIOS = {
    "unknown_optimizer": (
        ["optimizer.name=adamax"],
        ["optimizer.name: 'adamax' is not valid", *names(OptimizerName)],
    ),
    "unknown_initializer": (
        ["model.initializer=he_normall"],
        ["model.initializer: 'he_normall' is not valid", *names(Initializer)],
    ),
    "unknown_activation": (
        ["model.activation=relux"],
        ["model.activation: 'relux' is not valid", *names(Activation)],
    ),
    "unknown_schedule": (
        ["optimizer.schedule.name=step"],
        ["optimizer.schedule.name: 'step' is not valid", *names(ScheduleName)],
    ),
    "unknown_dataset_name": (
        ["dataset.name=mnist"],
        ["dataset.name: 'mnist' is not valid", *names(DatasetName)],
    ),
    "zero_learning_rate": (
        ["optimizer.learning_rate=0"],
        ["optimizer.learning_rate: Input should be greater than 0"],
    ),
    "negative_learning_rate": (
        ["optimizer.learning_rate=-0.01"],
        ["optimizer.learning_rate: Input should be greater than 0"],
    ),
    "zero_batch_size": (
        ["training.batch_size=0"],
        ["training.batch_size: Input should be greater than or equal to 1"],
    ),
    "fraction_above_one": (["split.validation=1.5"], ["split.validation: a fraction must lie in (0, 1)"]),
    "zero_row_count": (["split.test=0"], ["split.test: a row count must be >= 1"]),
    "fractions_leave_no_training_rows": (
        ["split.validation=0.6", "split.test=0.5"],
        ["split.validation + split.test = 1.1 leaves no training rows"],
    ),
    "negative_penalty": (["model.l2=-0.01"], ["model.l2 must be >= 0, got -0.01"]),
    "negative_penalty_in_a_list": (["model.l1=[0.01,-0.5]"], ["model.l1 must be >= 0, got [0.01, -0.5]"]),
    "empty_hidden_layer": (
        ["model.hidden_units=[8,0]"],
        ["model.hidden_units: every hidden layer needs at least 1 unit, got [8, 0]"],
    ),
    "zero_width": (
        ["model.depth=2", "model.width=0"],
        ["model.width: Input should be greater than or equal to 1"],
    ),
}


def assert_nothing_read_and_no_run(tmp_path: Path, tracking_uri: str, line: str = "") -> None:
    assert "nowhere.csv" not in line, line  # the data file was never opened
    assert not (tmp_path / "data").exists()  # nothing ingested, normalized, split or cached
    assert not (tmp_path / "job" / "model").exists()
    assert not Path(tracking_uri.removeprefix("sqlite:///")).exists()  # not even a store
    assert store_runs(tracking_uri) == []


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_bad_config_is_refused_naming_the_key_before_any_data(
    name: str, run_pipeline, tmp_path: Path, isolated_tracking: str
) -> None:
    overrides, says = SCENARIOS[name]
    outcome = run_pipeline(*MISSING_DATA, f"dataset.path={tmp_path / 'nowhere.csv'}", *overrides)
    assert outcome.code == 2, outcome
    line = error_line(outcome.stderr)
    assert line.startswith("error: conf/ (Hydra): invalid configuration: "), line
    for fragment in says:
        assert fragment in line, line
    assert_nothing_read_and_no_run(tmp_path, isolated_tracking, line)


@pytest.mark.parametrize(
    ("override", "group", "options"),
    [
        ("optimizer=adamax", "optimizer", ["adam", "momentum", "momentum_decay", "rmsprop", "sgd"]),
        (
            "dataset=mnist",
            "dataset",
            [
                "breast_cancer",
                "california_housing",
                "csv",
                "diabetes",
                "digits",
                "facebook",
                "moons",
                "synthetic",
            ],
        ),
    ],
)
def test_an_unknown_config_group_option_lists_the_valid_ones(
    override: str, group: str, options: list[str], run_pipeline, tmp_path: Path, isolated_tracking: str
) -> None:
    outcome = run_pipeline(override)
    assert outcome.code == 2, outcome
    value = override.split("=")[1]
    line = error_line(outcome.stderr)
    assert (
        line
        == f"error: conf/{group}/{value}.yaml does not exist; {group} must be one of {', '.join(options)}"
    )
    assert_nothing_read_and_no_run(tmp_path, isolated_tracking)


def test_the_command_lists_every_bad_key_in_one_line(
    tmp_path: Path, path_overrides, isolated_tracking
) -> None:
    """The real `python -m pipeline.run`, three mistakes at once."""
    command = [
        sys.executable,
        "-m",
        "pipeline.run",
        *MISSING_DATA,
        f"dataset.path={tmp_path / 'nowhere.csv'}",
        "optimizer.name=adamax",
        "training.batch_size=0",
        "model.l2=-1",
        f"hydra.run.dir={tmp_path / 'job'}",
        *path_overrides,
    ]
    done = subprocess.run(
        command, cwd=ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 2, done.stderr
    line = error_line(done.stderr)
    for fragment in (
        "optimizer.name: 'adamax' is not valid",
        "training.batch_size:",
        "model.l2 must be >= 0",
    ):
        assert fragment in line, line
    assert_nothing_read_and_no_run(tmp_path, isolated_tracking, line)
