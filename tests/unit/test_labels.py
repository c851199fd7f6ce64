"""Class labels: the task `auto` picks, class indices, and each bad target's one-line message."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.core.config import DatasetConfig
from pipeline.core.errors import PipelineError
from pipeline.data.labels import class_labels
from pipeline.data.normalize import normalize


def labels(values: list[object], setting: str = "auto", name: str = "y"):  # noqa: ANN201
    return class_labels(pd.Series(values, name=name), setting, "data.csv")  # type: ignore[arg-type]


def test_text_labels_become_sorted_classes_and_indices() -> None:
    found = labels(["yes", "no", "yes", "maybe"], "multiclass")
    assert found is not None
    assert found.task == "multiclass"
    assert found.classes == ["maybe", "no", "yes"]
    assert found.codes.tolist() == [2, 1, 2, 0]
    assert found.note is None  # only `auto` explains its choice


def test_numeric_classes_sort_as_numbers_not_text() -> None:
    found = labels([10, 2, 1, 2, 10], "multiclass")
    assert found is not None and found.classes == ["1", "2", "10"]
    assert found.codes.tolist() == [2, 1, 0, 1, 2]
    whole_floats = labels([1.0, 0.0, 1.0], "binary")
    assert whole_floats is not None and whole_floats.classes == ["0", "1"]


@pytest.mark.parametrize(
    ("values", "task", "why"),
    [
        (["cat", "dog", "cat"], "binary", "text labels, 2 classes"),
        (["a", "b", "c"], "multiclass", "text labels, 3 classes"),
        ([0, 1, 1, 0], "binary", "whole numbers with two values"),
    ],
)
def test_auto_says_what_it_chose(values: list[object], task: str, why: str) -> None:
    found = labels(values)
    assert found is not None and found.task == task
    assert found.note is not None and why in found.note and f"chose {task}" in found.note


def test_auto_leaves_a_continuous_target_to_regression() -> None:
    assert labels([0.5, 1.25, 3.0]) is None
    assert labels([1.5, 2.0], "regression") is None


def wine_like() -> list[int]:
    return [1, 2, 3] * 59 + [1]  # 178 rows, 3 cultivars


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (wine_like(), "multiclass"),  # wine: 3 whole-number cultivars
        ([d for d in range(10) for _ in range(18)], "multiclass"),  # digits: 10 values
        ([int(v) for v in np.random.default_rng(0).lognormal(5, 1, 500)], None),  # Facebook's `like` counts
        ([12.5, 99.99, 7.25, 12.5, 3.0, 99.99], None),  # prices: floats are a quantity, never an error
        ([1, 2, 3, 4, 5], None),  # 5 values in 5 rows: each seen once, a quantity
    ],
    ids=["wine", "digits", "facebook_likes", "prices", "few_rows"],
)
def test_auto_rule_classes_and_quantities(values: list[float], task: str | None) -> None:
    found = labels(values)
    assert (found.task if found else None) == task


def test_auto_takes_twenty_whole_values_as_classes_and_twenty_one_as_a_quantity() -> None:
    assert labels(list(range(20)) * 2) is not None
    assert labels(list(range(21)) * 2) is None


def test_auto_note_says_the_rule_and_how_to_overrule_it() -> None:
    from pipeline.data.labels import auto_note

    likes = pd.Series(list(range(300)) + list(range(200)), name="like")
    assert auto_note(likes) == (
        "dataset.task=auto chose regression for 'like' (whole numbers with 300 distinct values in 500 "
        "rows: a quantity (classes are at most 20 values, each in 2 rows or more on average)); "
        "set dataset.task=multiclass to train a classifier instead"
    )
    found = labels(wine_like(), name="cultivar")
    assert found is not None and found.note == (
        "dataset.task=auto chose multiclass for 'cultivar' (whole numbers with 3 values, at most 20: "
        "['1', '2', '3']); set dataset.task=regression to predict it as a quantity instead"
    )


def test_single_class_is_refused_naming_column_and_class() -> None:
    with pytest.raises(PipelineError) as info:
        labels(["a", "a", "a"], "binary", name="species")
    assert str(info.value) == (
        "data.csv: dataset.target 'species' has a single class ['a']: a classifier needs at least "
        "2 classes; check dataset.target"
    )


def test_binary_with_three_classes_names_them_and_the_fix() -> None:
    with pytest.raises(PipelineError) as info:
        labels(["a", "b", "c", "a"], "binary")
    message = str(info.value)
    assert "dataset.task=binary but dataset.target 'y' has 3 classes ['a', 'b', 'c']" in message
    assert message.endswith("set dataset.task=multiclass")


def test_fractional_labels_are_refused() -> None:
    with pytest.raises(PipelineError) as info:
        labels([0.0, 1.0, 0.5, 2.0], "multiclass")
    message = str(info.value)
    assert "not whole ([0.5])" in message and "dataset.task=regression" in message


def test_many_classes_are_shortened_in_messages() -> None:
    with pytest.raises(PipelineError) as info:
        labels([f"c{i:02d}" for i in range(20)], "binary")
    assert "and 8 more" in str(info.value)


def test_normalize_records_task_and_classes_and_keeps_text_targets() -> None:
    frame = pd.DataFrame({"x": [0.1, 0.2, 0.3, 0.4], "kind": ["b", "a", "b", "a"]})
    dataset = DatasetConfig(name="csv", path="f.csv", separator=",", target="kind", task="binary")
    encoded, schema = normalize(frame, dataset, "f.csv")
    assert schema["task"] == "binary" and schema["classes"] == ["a", "b"]
    assert encoded["kind"].tolist() == [1, 0, 1, 0]
    assert encoded["kind"].dtype == np.int64


def test_a_text_target_under_regression_names_dataset_task() -> None:
    frame = pd.DataFrame({"x": [0.1, 0.2, 0.3], "species": ["setosa", "virginica", "setosa"]})
    dataset = DatasetConfig(name="csv", path="iris.csv", separator=",", target="species", task="regression")
    with pytest.raises(PipelineError) as info:
        normalize(frame, dataset, "iris.csv")
    assert str(info.value) == (
        "iris.csv: dataset.target 'species' holds text (['setosa', 'virginica'], line 2): a regression "
        "needs numbers; set dataset.task=auto (or binary/multiclass) to train a classifier"
    )
