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


def test_auto_refuses_whole_numbers_it_cannot_read() -> None:
    with pytest.raises(PipelineError) as info:
        labels([1, 2, 3, 4, 5])
    message = str(info.value)
    assert "dataset.task=auto cannot tell" in message
    assert "dataset.task=multiclass or dataset.task=regression" in message


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


def test_a_regression_target_must_still_be_numeric() -> None:
    frame = pd.DataFrame({"x": [0.1, 0.2], "kind": ["b", "a"]})
    dataset = DatasetConfig(name="csv", path="f.csv", separator=",", target="kind")
    with pytest.raises(PipelineError, match="non-numeric"):
        normalize(frame, dataset, "f.csv")
