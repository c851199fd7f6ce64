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
