"""A classification target: its task (binary or multiclass), its classes, and each row's class
index. Bad labels are one PipelineError naming the column, the classes found and what would do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.core.dataset_config import Task, TaskSetting
from pipeline.core.errors import PipelineError
from pipeline.data.features import category_strings

SHOWN_CLASSES = 12  # a message lists at most this many classes


@dataclass(frozen=True)
class Labels:
    task: Task
    classes: list[str]  # class index i is classes[i]
    codes: np.ndarray  # int64, one class index per row
    note: str | None = None  # what `auto` chose, and why


def shown(classes: list[str]) -> str:
    """The classes for a message: all of them, or the first SHOWN_CLASSES and a count."""
    if len(classes) <= SHOWN_CLASSES:
        return str(classes)
    return f"{classes[:SHOWN_CLASSES]} and {len(classes) - SHOWN_CLASSES} more"


def numeric_values(values: pd.Series) -> pd.Series | None:
    """The column as numbers when every cell is one, else None (text labels)."""
    if pd.api.types.is_bool_dtype(values):
        return None
    numbers = pd.to_numeric(values, errors="coerce")
    return numbers.astype("float64") if numbers.notna().all() else None


def sorted_classes(labels: pd.Series, numbers: pd.Series | None) -> list[str]:
    """The distinct labels as strings, in numeric order for numbers, else alphabetical."""
    if numbers is not None:
        return [category_strings(pd.Series([v])).iloc[0] for v in sorted(numbers.unique())]
    return sorted(labels.unique().tolist())


AUTO_MAX_CLASSES = 20  # `auto`: whole numbers with more distinct values are a quantity
AUTO_MIN_ROWS_PER_CLASS = 2  # `auto`: ... and so are whole numbers seen fewer times than this on average


def auto_task(numbers: pd.Series | None, classes: int) -> tuple[Task, str]:
    """What `dataset.task=auto` decides for a target column, and why. The rule:
    text labels are classes (binary for two, else multiclass); numbers with a fraction are a
    quantity (regression); whole numbers with two values are binary; whole numbers with at
    most AUTO_MAX_CLASSES (20) distinct values, each seen on average at least
    AUTO_MIN_ROWS_PER_CLASS (2) times (distinct values <= rows / 2), are multiclass (wine's 3
    cultivars, digits' 10); any other whole numbers are a quantity (a count such as
    Facebook's `like`, 257 distinct values in 500 rows). It never refuses a column."""
    if numbers is None:
        return ("binary" if classes == 2 else "multiclass"), f"text labels, {classes} classes"
    if not bool(np.all(numbers == np.round(numbers))):
        return "regression", "numbers with fractions: a quantity"
    if classes <= 2:
        return "binary", "whole numbers with two values"
    if classes <= AUTO_MAX_CLASSES and classes * AUTO_MIN_ROWS_PER_CLASS <= len(numbers):
        return "multiclass", f"whole numbers with {classes} values, at most {AUTO_MAX_CLASSES}"
    return "regression", (
        f"whole numbers with {classes} distinct values in {len(numbers)} rows: a quantity "
        f"(classes are at most {AUTO_MAX_CLASSES} values, each in 2 rows or more on average)"
    )


def distinct_values(values: pd.Series, numbers: pd.Series | None) -> int:
    """How many different labels the column holds (as numbers when they all are)."""
    return int(numbers.nunique() if numbers is not None else category_strings(values).nunique())


def auto_hint(task: Task) -> str:
    """How to overrule `auto`'s choice."""
    if task == "regression":
        return "set dataset.task=multiclass to train a classifier instead"
    return "set dataset.task=regression to predict it as a quantity instead"


def auto_note(values: pd.Series) -> str:
    """The line that says what `auto` chose for target column `values`, why, and how to overrule it."""
    numbers = numeric_values(values)
    task, why = auto_task(numbers, distinct_values(values, numbers))
    if task != "regression":
        why = f"{why}: {shown(sorted_classes(category_strings(values), numbers))}"
    note = f"dataset.task=auto chose {task} for {str(values.name)!r} ({why})"
    return f"{note}; {auto_hint(task)}" if numbers is not None else note


def class_labels(values: pd.Series, setting: TaskSetting, source: str) -> Labels | None:
    """The classes of target column `values` for a classification task; None when the task is
    (or `auto` resolves to) regression."""
    column = str(values.name)
    numbers = numeric_values(values)
    task = auto_task(numbers, distinct_values(values, numbers))[0] if setting == "auto" else setting
    if task == "regression":
        return None
    labels = category_strings(values)
    classes = sorted_classes(labels, numbers)
    if numbers is not None and not bool(np.all(numbers == np.round(numbers))):
        fractional = sorted({float(v) for v in numbers[numbers != np.round(numbers)].head(3)})
        raise PipelineError(
            f"{source}: dataset.target {column!r} holds numbers that are not whole ({fractional}), "
            f"which cannot be class labels for dataset.task={task}; set dataset.task=regression "
            "for a continuous target"
        )
    if len(classes) < 2:
        raise PipelineError(
            f"{source}: dataset.target {column!r} has a single class {classes}: a classifier needs "
            "at least 2 classes; check dataset.target"
        )
    if task == "binary" and len(classes) > 2:
        raise PipelineError(
            f"{source}: dataset.task=binary but dataset.target {column!r} has {len(classes)} classes "
            f"{shown(classes)}; set dataset.task=multiclass"
        )
    codes = pd.Categorical(labels, categories=classes).codes.astype("int64")
    return Labels(task, classes, codes, auto_note(values) if setting == "auto" else None)


def class_counts(codes: np.ndarray, classes: list[str]) -> dict[str, int]:
    """Rows per class, every class listed (0 for one with none)."""
    counts = np.bincount(np.asarray(codes, dtype="int64"), minlength=len(classes))
    return {name: int(n) for name, n in zip(classes, counts, strict=True)}
