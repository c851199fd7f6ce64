"""The normalize stage's data checks as a pandera schema built from the config.

`dataset_schema` says what the used columns must hold: present, never blank (blank rows are
dropped before it runs unless `dataset.drop_blank_rows=false`), numbers that are finite
(categorical columns excepted), and at least one row. `validate` runs it lazily, so every
failure is found at once, and turns pandera's failure cases into one PipelineError line
naming the file, the columns and the lines (line = row index + 2: the header is line 1).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from pipeline.core.config import DatasetConfig
from pipeline.core.errors import PipelineError
from pipeline.core.overrides import hydra_quoted, shell_word

PRESENT = "column_in_dataframe"  # pandera's check name for a required column
BLANK = "not_nullable"  # pandera's check name for a blank cell where none is allowed
NUMERIC = "numeric"
FINITE = "finite"
HAS_ROWS = "has_rows"
EXAMPLES = 3
_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # a list element Hydra reads back as this very string
_WORDS = {"true", "false", "null", "nan", "inf", "on", "off", "yes", "no"}


def list_override(key: str, names: Sequence[str]) -> str:
    """`key=[a,b]` as one bash word that Hydra reads back as this list of strings:
    `'dataset.categorical=[city,"Post Month"]'` (names that Hydra would read as another
    type, or that hold spaces or punctuation, are quoted)."""
    items = [n if _BARE.fullmatch(n) and n.lower() not in _WORDS else hydra_quoted(n) for n in names]
    return shell_word(f"{key}=[{','.join(items)}]")


@dataclass(frozen=True)
class Roles:
    """What the message needs to know of the config: the target, its task, the features and
    the declared categorical columns."""

    target: str
    regression: bool
    features: tuple[str, ...]
    categorical: tuple[str, ...]


def as_numbers(values: pd.Series) -> pd.Series:
    """The values as float64; text that is not a number becomes NaN."""
    return pd.to_numeric(values, errors="coerce").astype("float64")


def number_or_blank(values: pd.Series) -> pd.Series:
    """True where a cell is a number or blank (blanks are the nullability check's business)."""
    return as_numbers(values).notna() | values.isna()


def not_infinite(values: pd.Series) -> pd.Series:
    """True where a cell is not +-inf (text and blanks are other checks' business)."""
    return ~as_numbers(values).isin([np.inf, -np.inf])


def used_columns(dataset: DatasetConfig, features: Sequence[str]) -> list[str]:
    """Features, categorical columns and the target, each once, in that order."""
    return list(dict.fromkeys([*features, *dataset.categorical, dataset.target]))


def dataset_schema(dataset: DatasetConfig, features: Sequence[str]) -> pa.DataFrameSchema:
    """The schema of the used columns for `dataset` with these raw feature columns."""
    numeric = [pa.Check(number_or_blank, name=NUMERIC), pa.Check(not_infinite, name=FINITE)]
    text = set(dataset.categorical)  # class labels may be text too (pipeline.data.labels checks them)
    if dataset.task != "regression":
        text.add(dataset.target)
    columns = {
        name: pa.Column(checks=[] if name in text else numeric, nullable=False, required=True)
        for name in used_columns(dataset, features)
    }
    has_rows = pa.Check(lambda frame: len(frame) > 0, name=HAS_ROWS)
    return pa.DataFrameSchema(columns, checks=[has_rows], strict=False, name=f"dataset={dataset.name}")


def _line(index: object) -> int:
    return int(index) + 2  # type: ignore[call-overload]  # a row label of the file's RangeIndex


def missing_columns(cases: pd.DataFrame, file_columns: Sequence[str]) -> list[str]:
    missing = sorted({str(c) for c in cases.loc[cases["check"] == PRESENT, "failure_case"]})
    return [f"missing column(s) {missing}; the file has {list(file_columns)}"] if missing else []


def blank_cells(cases: pd.DataFrame) -> list[str]:
    blank = cases[cases["check"] == BLANK]
    if blank.empty:
        return []
    rows = sorted({int(i) for i in blank["index"]})
    columns = sorted({str(c) for c in blank["column"]})
    return [
        f"{len(rows)} row(s) have blank cells in {columns} (first at line {_line(rows[0])}); "
        "set dataset.drop_blank_rows=true to drop them"
    ]


def mostly_text(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """The columns (of those present) where more than half of the non-blank cells are not numbers."""
    text = []
    for column in columns:
        if column in frame.columns:
            values = frame[column].dropna()
            if len(values) and as_numbers(values).isna().sum() * 2 > len(values):
                text.append(column)
    return text


def text_hint(text: list[str], roles: Roles) -> list[str]:
    """For feature columns holding text: declare them categorical, or leave them out."""
    if not text:
        return []
    them = "it" if len(text) == 1 else "them"
    hint = (
        f"declare {them} categorical with {list_override('dataset.categorical', [*roles.categorical, *text])}"
    )
    kept = [c for c in roles.features if c not in text]
    if kept:
        hint += f" or leave {them} out with {list_override('dataset.features', kept)}"
    return [hint]


def bad_values(cases: pd.DataFrame, columns: Sequence[str], text: Sequence[str], roles: Roles) -> list[str]:
    """Per column, in file order: text that is not a number, then infinite values; a column
    that is mostly text says what to set (`text`: such columns)."""
    problems, text_features = [], []
    for column in columns:
        mine = cases[cases["column"] == column]
        wrong = mine[mine["check"] == NUMERIC].sort_values("index", key=lambda i: i.astype("int64"))
        if not wrong.empty:
            examples = sorted({str(v) for v in wrong["failure_case"].head(EXAMPLES)})
            first = _line(wrong["index"].iloc[0])
            if column == roles.target and roles.regression and column in text:
                problems.append(
                    f"dataset.target {column!r} holds text ({examples}, line {first}): a regression "
                    "needs numbers; set dataset.task=auto (or binary/multiclass) to train a classifier"
                )
            elif column in text and column != roles.target:
                problems.append(f"{column!r} holds text {examples} (line {first}), not numbers")
                text_features.append(column)
            else:
                problems.append(f"{column!r} has non-numeric values {examples} (line {first})")
        infinite = mine[mine["check"] == FINITE]
        if not infinite.empty:
            first = _line(min(int(i) for i in infinite["index"]))
            problems.append(f"{column!r} has infinite values (line {first})")
    return problems + text_hint(text_features, roles)


def no_rows(cases: pd.DataFrame, blank_rows_dropped: bool) -> list[str]:
    if not (cases["check"] == HAS_ROWS).any():
        return []
    return ["no rows left after dropping rows with blank cells" if blank_rows_dropped else "no data rows"]


def describe(
    cases: pd.DataFrame,
    columns: Sequence[str],
    file_columns: Sequence[str],
    blank_rows_dropped: bool,
    text: Sequence[str],
    roles: Roles,
) -> str:
    """pandera's failure cases as one line: missing columns, blanks, bad values (`text`: the
    columns that are mostly text), no rows."""
    known = {PRESENT, BLANK, NUMERIC, FINITE, HAS_ROWS}
    other = [f"{c.column}: failed {c.check}" for c in cases.itertuples() if c.check not in known]
    return "; ".join(
        [
            *missing_columns(cases, file_columns),
            *blank_cells(cases),
            *bad_values(cases, columns, text, roles),
            *no_rows(cases, blank_rows_dropped),
            *sorted(set(other)),
        ]
    )


def validate(
    frame: pd.DataFrame,
    dataset: DatasetConfig,
    features: Sequence[str],
    file_columns: Sequence[str],
    source: str,
) -> None:
    """Check `frame` against the dataset's schema; every failure in one PipelineError."""
    try:
        dataset_schema(dataset, features).validate(frame, lazy=True)
    except SchemaErrors as err:
        columns = used_columns(dataset, features)
        roles = Roles(
            dataset.target, dataset.task == "regression", tuple(features), tuple(dataset.categorical)
        )
        text = mostly_text(frame, columns)
        message = describe(err.failure_cases, columns, file_columns, dataset.drop_blank_rows, text, roles)
        raise PipelineError(f"{source}: {message}") from None
