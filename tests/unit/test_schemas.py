"""The data checks of normalize as a pandera schema built from the dataset config."""

from __future__ import annotations

from pipeline.core.config import DatasetConfig
from pipeline.data.schemas import FINITE, NUMERIC, dataset_schema


def facebook() -> DatasetConfig:
    return DatasetConfig(
        name="facebook",
        path="facebook.csv",
        separator=";",
        target="like",
        features=["Page total likes", "Type", "Category", "Paid"],
        categorical=["Type", "Category"],
    )


def test_the_schema_is_built_from_the_config() -> None:
    schema = dataset_schema(facebook(), ["Page total likes", "Type", "Category", "Paid"])
    assert list(schema.columns) == ["Page total likes", "Type", "Category", "Paid", "like"]
    assert all(c.required and not c.nullable for c in schema.columns.values())
    assert schema.columns["Type"].checks == [] and schema.columns["Category"].checks == []
    for name in ("Page total likes", "Paid", "like"):
        assert [c.name for c in schema.columns[name].checks] == [NUMERIC, FINITE]


def test_a_column_is_text_when_most_of_its_cells_are_not_numbers() -> None:
    import pandas as pd

    from pipeline.data.schemas import mostly_text

    frame = pd.DataFrame(
        {
            "city": ["Berlin", "Rome", "1", None],  # 2 of 3 non-blank cells are words
            "area": ["70.5", "n/a", "80", "1,5"],  # a stray 'n/a' and a decimal comma: a broken number column
            "y": [1, 2, 3, 4],
        }
    )
    assert mostly_text(frame, ["city", "area", "y", "absent"]) == ["city"]
