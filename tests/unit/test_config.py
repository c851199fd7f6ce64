"""Config validation: a bad config is one PipelineError naming the key and what would be valid."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import pytest

from pipeline.core.config import (
    Activation,
    Config,
    DatasetName,
    Initializer,
    OptimizerName,
    TrackingConfig,
    flatten,
    validate_config,
)
from pipeline.core.errors import PipelineError
from pipeline.core.io import sha256_file

MakeConfig = Callable[..., Config]


@pytest.fixture
def raw(make_config: MakeConfig) -> dict[str, Any]:
    """A good composed config as the plain mapping `params.yaml` holds."""
    return make_config().model_dump(mode="json")


def changed(raw: dict[str, Any], **updates: Any) -> dict[str, Any]:
    """A deep copy of `raw` with dotted keys (given with '__' for '.') set to new values."""
    out = copy.deepcopy(raw)
    for dotted, value in updates.items():
        *parents, leaf = dotted.split("__")
        node = out
        for key in parents:
            node = node[key]
        node[leaf] = value
    return out


def problem(raw: dict[str, Any]) -> str:
    with pytest.raises(PipelineError) as info:
        validate_config(raw, "params.yaml")
    message = str(info.value)
    assert message.startswith("params.yaml: invalid configuration:")
    return message


def test_good_config_validates(make_config: MakeConfig, raw: dict[str, Any]) -> None:
    cfg = validate_config(raw, "params.yaml")
    assert cfg == make_config()
    assert cfg.dataset.name == "diabetes"
    assert cfg.training.epochs == 5


@pytest.mark.parametrize(
    ("key", "bad", "valid_names"),
    [
        ("optimizer__name", "adm", get_args(OptimizerName)),
        ("model__initializer", "xavier", get_args(Initializer)),
        ("model__bias_initializer", "xavier", get_args(Initializer)),
        ("model__activation", "relu6", get_args(Activation)),
        ("dataset__name", "mnist", get_args(DatasetName)),
    ],
)
def test_unknown_name_lists_the_valid_names(
    raw: dict[str, Any], key: str, bad: str, valid_names: tuple[str, ...]
) -> None:
    message = problem(changed(raw, **{key: bad}))
    assert f"{key.replace('__', '.')}: {bad!r} is not valid" in message
    for name in valid_names:
        assert repr(name) in message


@pytest.mark.parametrize("rate", [0, 0.0, -0.01])
def test_learning_rate_must_be_positive(raw: dict[str, Any], rate: float) -> None:
    message = problem(changed(raw, optimizer__learning_rate=rate))
    assert "optimizer.learning_rate" in message
    assert "greater than 0" in message


def test_batch_size_zero_is_rejected(raw: dict[str, Any]) -> None:
    message = problem(changed(raw, training__batch_size=0))
    assert "training.batch_size" in message
    assert "greater than or equal to 1" in message


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("validation", 1.5),
        ("validation", 1.0),
        ("validation", 0.0),
        ("test", -0.1),
        ("validation", 0),
        ("test", -3),
    ],
)
def test_split_size_outside_its_range(raw: dict[str, Any], key: str, value: float) -> None:
    message = problem(changed(raw, **{f"split__{key}": value}))
    assert f"split.{key}" in message
    assert str(value) in message


@pytest.mark.parametrize(("validation", "test"), [(0.5, 0.5), (0.6, 0.5), (0.9, 0.3)])
def test_split_fractions_must_leave_training_rows(
    raw: dict[str, Any], validation: float, test: float
) -> None:
    message = problem(changed(raw, split__validation=validation, split__test=test))
    assert "split.validation + split.test" in message
    assert "no training rows" in message


def test_split_row_counts_and_fractions_can_mix(raw: dict[str, Any]) -> None:
    cfg = validate_config(changed(raw, split__validation=1000, split__test=0.1), "params.yaml")
    assert cfg.split.validation == 1000 and isinstance(cfg.split.validation, int)
    assert cfg.split.test == pytest.approx(0.1)


@pytest.mark.parametrize("key", ["l1", "l2"])
def test_negative_penalty_is_rejected(raw: dict[str, Any], key: str) -> None:
    message = problem(changed(raw, **{f"model__{key}": -0.01}))
    assert f"model.{key} must be >= 0" in message


def test_negative_penalty_in_a_list_is_rejected(raw: dict[str, Any]) -> None:
    message = problem(changed(raw, model__hidden_units=[8], model__l2=[0.1, -0.1]))
    assert "model.l2 must be >= 0" in message


@pytest.mark.parametrize("units", [[0], [8, 0], [-4]])
def test_hidden_layer_needs_a_unit(raw: dict[str, Any], units: list[int]) -> None:
    message = problem(changed(raw, model__hidden_units=units))
    assert "model.hidden_units" in message
    assert "at least 1 unit" in message


@pytest.mark.parametrize("penalty", [[0.1], [0.1, 0.1, 0.1]])
def test_penalty_list_needs_one_value_per_layer(raw: dict[str, Any], penalty: list[float]) -> None:
    message = problem(changed(raw, model__hidden_units=[8], model__l1=penalty))
    assert "model.l1" in message
    assert f"has {len(penalty)} values" in message
    assert "2 Dense layers" in message


def test_penalty_list_of_the_right_length_validates(raw: dict[str, Any]) -> None:
    cfg = validate_config(changed(raw, model__hidden_units=[8, 4], model__l2=[0.0, 0.1, 0.2]), "p")
    assert [cfg.model.penalty("l2", layer) for layer in range(3)] == [0.0, 0.1, 0.2]


@pytest.mark.parametrize(
    ("section", "typo"),
    [("optimizer", "learning_rte"), ("training", "epoch"), ("model", "hiden_units")],
)
def test_unknown_key_is_rejected(raw: dict[str, Any], section: str, typo: str) -> None:
    bad = copy.deepcopy(raw)
    bad[section][typo] = 1
    message = problem(bad)
    assert f"{section}.{typo}: unknown key (check its spelling)" in message


def test_unknown_top_level_section_is_rejected(raw: dict[str, Any]) -> None:
    bad = copy.deepcopy(raw)
    bad["optimiser"] = {"name": "sgd"}
    assert "optimiser: unknown key" in problem(bad)


def test_missing_required_key_is_named(raw: dict[str, Any]) -> None:
    bad = copy.deepcopy(raw)
    del bad["optimizer"]["learning_rate"]
    assert "optimizer.learning_rate: required key is missing" in problem(bad)


def test_every_problem_is_in_one_error(raw: dict[str, Any]) -> None:
    message = problem(changed(raw, optimizer__name="adm", training__batch_size=0, model__activation="nope"))
    assert "optimizer.name" in message
    assert "training.batch_size" in message
    assert "model.activation" in message
    assert message.count("; ") >= 2


def test_flatten_gives_dotted_keys() -> None:
    tree = {"a": {"b": 1, "c": {"d": [1, 2]}}, "e": "x", "f": {}}
    assert flatten(tree) == {"a.b": 1, "a.c.d": [1, 2], "e": "x", "f": {}}


def test_flatten_of_a_config_reaches_the_leaves(make_config: MakeConfig) -> None:
    flat = flatten(make_config().model_dump(mode="json"))
    assert flat["optimizer.learning_rate"] == 0.01
    assert flat["optimizer.schedule.name"] == "none"
    assert flat["training.early_stopping.enabled"] is False
    assert not any(isinstance(value, dict) and value for value in flat.values())


def test_facebook_preset_composes(make_config: MakeConfig) -> None:
    dataset = make_config("dataset=facebook").dataset
    assert dataset.name == "facebook"
    assert dataset.separator == ";"
    assert dataset.target == "like"
    assert dataset.categorical == ["Type", "Category"]
    assert dataset.archive_member == "dataset_Facebook.csv"
    assert dataset.features is not None and "Type" in dataset.features


def test_california_housing_preset_composes(make_config: MakeConfig) -> None:
    dataset = make_config("dataset=california_housing").dataset
    assert dataset.name == "california_housing"
    assert dataset.target == "median_house_value"
    assert dataset.categorical == ["ocean_proximity"]
    assert dataset.url and dataset.sha256


def test_synthetic_preset_sets_the_split(make_config: MakeConfig) -> None:
    cfg = make_config("dataset=synthetic")
    assert cfg.dataset.name == "synthetic"
    assert cfg.dataset.synthetic is not None and cfg.dataset.synthetic.n_samples > 1100
    assert cfg.split.validation == 1000 and isinstance(cfg.split.validation, int)
    assert cfg.split.test == 100 and isinstance(cfg.split.test, int)


def test_diabetes_preset_composes(make_config: MakeConfig) -> None:
    cfg = make_config("dataset=diabetes")
    assert cfg.dataset.name == "diabetes"
    assert cfg.dataset.target == "target"
    assert cfg.split.validation == pytest.approx(0.2)


def test_facebook_checksum_matches_the_shared_file(make_config: MakeConfig, facebook_csv: Path) -> None:
    assert make_config("dataset=facebook").dataset.sha256 == sha256_file(facebook_csv)


def test_housing_checksum_matches_the_shared_file(make_config: MakeConfig, housing_csv: Path) -> None:
    assert make_config("dataset=california_housing").dataset.sha256 == sha256_file(housing_csv)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "rmsprop", "adam"])
def test_optimizer_presets_compose(make_config: MakeConfig, optimizer: str) -> None:
    assert make_config(f"optimizer={optimizer}").optimizer.name == optimizer


def test_csv_without_a_path_names_dataset_path(make_config: MakeConfig) -> None:
    with pytest.raises(PipelineError, match=r"dataset\.path"):
        make_config("dataset=csv")


def test_csv_without_a_target_names_dataset_target(make_config: MakeConfig, tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match=r"dataset\.target"):
        make_config("dataset=csv", f"dataset.path={tmp_path / 'my.csv'}")


def test_csv_with_path_and_target_composes(make_config: MakeConfig, tmp_path: Path) -> None:
    path = tmp_path / "my.csv"
    cfg = make_config("dataset=csv", f"dataset.path={path}", "dataset.target=price")
    assert cfg.dataset.path == str(path)
    assert cfg.dataset.target == "price"


def test_run_name_interpolates_the_config(make_config: MakeConfig) -> None:
    cfg = make_config("optimizer=adam", "model.initializer=he_normal")
    assert cfg.tracking.run_name == "he_normal-adam-lr0.001"


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("depth2-width37-lr0.008731907739399207", "depth2-width37-lr0.00873"),
        ("lr1.2345678e-05", "lr1.23e-05"),
        ("sgd-lr1e-06", "sgd-lr1e-06"),
        ("l1=0.0001-l2=0.01", "l1=0.0001-l2=0.01"),
        ("units[64, 32]-seed7", "units[64, 32]-seed7"),
        ("release1.2.3", "release1.2.3"),
    ],
)
def test_run_names_round_long_numbers_and_keep_short_ones(name: str, shown: str) -> None:
    assert TrackingConfig(experiment="e", run_name=name).run_name == shown
