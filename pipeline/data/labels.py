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


def resolve_task(
    setting: TaskSetting, numbers: pd.Series | None, classes: int, column: str, source: str
) -> tuple[Task, str | None]:
    """The task for `setting`; `auto` decides only when the column leaves no doubt: text labels
    are classes, numbers with a fraction are a regression target, whole numbers with two values
    are two classes. Anything else asks for `dataset.task`."""
    if setting != "auto":
        return setting, None
    if numbers is None:
        task: Task = "binary" if classes == 2 else "multiclass"
        return task, f"text labels, {classes} classes"
    if not bool(np.all(numbers == np.round(numbers))):
        return "regression", "numbers with fractions"
    if classes <= 2:
        return "binary", "whole numbers with two values"
    raise PipelineError(
        f"{source}: dataset.target {column!r}: dataset.task=auto cannot tell whether {classes} whole-number "
        "values are classes or quantities; set dataset.task=multiclass or dataset.task=regression"
    )


def class_labels(values: pd.Series, setting: TaskSetting, source: str) -> Labels | None:
    """The classes of target column `values` for a classification task; None when the task is
    (or `auto` resolves to) regression."""
    column = str(values.name)
    numbers = numeric_values(values)
    labels = category_strings(values)
    classes = sorted_classes(labels, numbers)
    task, why = resolve_task(setting, numbers, len(classes), column, source)
    if task == "regression":
        return None
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
    note = f"dataset.task=auto chose {task} for {column!r} ({why}: {shown(classes)})" if why else None
    return Labels(task, classes, codes, note)


def class_counts(codes: np.ndarray, classes: list[str]) -> dict[str, int]:
    """Rows per class, every class listed (0 for one with none)."""
    counts = np.bincount(np.asarray(codes, dtype="int64"), minlength=len(classes))
    return {name: int(n) for name, n in zip(classes, counts, strict=True)}
