"""split: partition sizes, seeded disjoint partitions, scaling stats from training rows only."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from pipeline.core.config import SplitConfig
from pipeline.core.errors import PipelineError
from pipeline.core.files import PARTS
from pipeline.data.split import fit_scaler, partition, split_sizes


@pytest.mark.parametrize(
    ("rows", "validation", "test", "expected"),
    [
        (100, 0.2, 0.1, {"train": 70, "validation": 20, "test": 10}),
        (10, 0.2, 0.2, {"train": 6, "validation": 2, "test": 2}),
        (100, 10, 5, {"train": 85, "validation": 10, "test": 5}),
        (1150, 1000, 100, {"train": 50, "validation": 1000, "test": 100}),
        (200, 0.25, 30, {"train": 120, "validation": 50, "test": 30}),
    ],
)
def test_split_sizes(rows: int, validation: float, test: float, expected: dict[str, int]) -> None:
    sizes = split_sizes(rows, SplitConfig(validation=validation, test=test))
    assert sizes == expected
    assert sum(sizes.values()) == rows


@pytest.mark.parametrize(
    ("rows", "validation", "test"),
    [(3, 0.2, 0.2), (5, 0.3, 0.3), (10, 5, 5), (10, 4, 5), (1000, 1000, 100), (2, 0.25, 0.25)],
)
def test_too_few_rows(rows: int, validation: float, test: float) -> None:
    with pytest.raises(PipelineError) as info:
        split_sizes(rows, SplitConfig(validation=validation, test=test), "normalized.parquet")
    message = str(info.value)
    assert message.startswith("normalized.parquet:")
    assert f"{rows} rows are too few" in message
    assert f"split.validation={validation}" in message


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame({"id": np.arange(50), "x": np.arange(50) * 10.0})


def test_partition_is_disjoint_and_covers_every_row(frame: pd.DataFrame) -> None:
    sizes = {"train": 30, "validation": 15, "test": 5}
    parts = partition(frame, sizes, seed=7)
    assert list(parts) == list(PARTS)
    ids = {part: set(rows["id"]) for part, rows in parts.items()}
    assert {part: len(rows) for part, rows in parts.items()} == sizes
    assert not ids["train"] & ids["validation"]
    assert not ids["train"] & ids["test"]
    assert not ids["validation"] & ids["test"]
    assert ids["train"] | ids["validation"] | ids["test"] == set(range(50))
    for rows in parts.values():
        assert list(rows.index) == list(range(len(rows)))
        assert rows["x"].tolist() == (rows["id"] * 10.0).tolist()  # rows stay whole


def test_partition_is_deterministic_for_a_seed(frame: pd.DataFrame) -> None:
    sizes = {"train": 30, "validation": 15, "test": 5}
    first, again = partition(frame, sizes, seed=42), partition(frame, sizes, seed=42)
    other = partition(frame, sizes, seed=43)
    for part in PARTS:
        pd.testing.assert_frame_equal(first[part], again[part])
    assert first["train"]["id"].tolist() != other["train"]["id"].tolist()


def test_partition_shuffles(frame: pd.DataFrame) -> None:
    parts = partition(frame, {"train": 25, "validation": 20, "test": 5}, seed=0)
    assert parts["train"]["id"].tolist() != list(range(25))


SCHEMA = {"encoded_features": ["x1", "x2"], "target": "y"}


def test_fit_scaler_uses_only_training_rows() -> None:
    full = pd.DataFrame(
        {
            "x1": [1.0, 2.0, 3.0, 100.0, 200.0],
            "x2": [10.0, 20.0, 30.0, -50.0, -60.0],
            "y": [0.0, 2.0, 4.0, 1000.0, 2000.0],
        }
    )
    train = full.iloc[:3]
    scaler = fit_scaler(train, SCHEMA)
    assert scaler["features"]["names"] == ["x1", "x2"]
    assert scaler["features"]["mean"] == pytest.approx([2.0, 20.0])
    assert scaler["features"]["mean"] != pytest.approx(full[["x1", "x2"]].mean().tolist())
    assert scaler["features"]["std"] == pytest.approx(train[["x1", "x2"]].std(ddof=0).tolist())
    assert scaler["target"]["name"] == "y"
    assert scaler["target"]["mean"] == pytest.approx(2.0)
    assert scaler["target"]["std"] == pytest.approx(np.std([0.0, 2.0, 4.0]))
    assert scaler["target"]["mean"] != pytest.approx(full["y"].mean())
    assert scaler["constant_features"] == []


def test_fit_scaler_after_partition_matches_the_train_part() -> None:
    rng = np.random.default_rng(3)
    full = pd.DataFrame({"x1": rng.normal(size=40), "x2": rng.normal(size=40) * 5, "y": np.arange(40.0)})
    parts = partition(full, {"train": 20, "validation": 12, "test": 8}, seed=1)
    scaler = fit_scaler(parts["train"], SCHEMA)
    assert scaler["target"]["mean"] == pytest.approx(parts["train"]["y"].mean())
    assert scaler["target"]["mean"] != pytest.approx(full["y"].mean())


def test_fit_scaler_warns_about_a_constant_feature(capsys: pytest.CaptureFixture[str]) -> None:
    train = pd.DataFrame({"x1": [1.0, 2.0, 3.0], "x2": [5.0, 5.0, 5.0], "y": [1.0, 2.0, 3.0]})
    scaler = fit_scaler(train, SCHEMA)
    # one line of the project's own on stderr, not a Python warning with its source line
    assert capsys.readouterr().err == (
        "warning: constant feature column(s) ['x2'] in the training rows are kept unscaled\n"
    )
    assert scaler["constant_features"] == ["x2"]
    assert scaler["features"]["std"][1] == 1.0


def test_fit_scaler_warns_about_a_constant_fractional_feature(capsys: pytest.CaptureFixture[str]) -> None:
    train = pd.DataFrame({"x1": np.arange(7.0), "x2": np.full(7, 0.1), "y": np.arange(7.0)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no Python warning: the project's own line only
        scaler = fit_scaler(train, SCHEMA)
    assert "['x2']" in capsys.readouterr().err
    assert scaler["constant_features"] == ["x2"]
    assert scaler["features"]["std"][1] == 1.0


def test_one_hot_columns_are_not_standardized_so_rare_categories_stay_small():
    # 1 island among 100 rows: standardized, its indicator would be ~10 (64 in California housing)
    train = pd.DataFrame(
        {
            "rooms": np.arange(100, dtype=float),
            "place_inland": [1.0] * 99 + [0.0],
            "place_island": [0.0] * 99 + [1.0],
            "price": np.arange(100, dtype=float),
        }
    )
    schema = {
        "encoded_features": ["rooms", "place_inland", "place_island"],
        "categorical": {"place": ["inland", "island"]},
        "target": "price",
    }
    scaler = fit_scaler(train, schema)
    assert scaler["features"]["mean"][1:] == [0.0, 0.0]
    assert scaler["features"]["std"][1:] == [1.0, 1.0]
    assert scaler["features"]["std"][0] == pytest.approx(np.arange(100).std())


def two_towns(rows: int = 60) -> pd.DataFrame:
    """Points around (0, 0) and (10, 10), half each, and a target."""
    rng = np.random.default_rng(0)
    centers = np.repeat([[0.0, 0.0], [10.0, 10.0]], rows // 2, axis=0)
    points = centers + rng.normal(scale=0.1, size=(rows, 2))
    return pd.DataFrame({"x1": points[:, 0], "x2": points[:, 1], "y": rng.normal(size=rows)})


CLUSTER_SCHEMA = SCHEMA | {
    "cluster_similarity": {"columns": ["x1", "x2"], "clusters": 2, "gamma": 1.0, "seed": 0}
}


def test_fit_scaler_fits_cluster_centers_on_the_training_rows_and_scales_their_similarities() -> None:
    frame = two_towns()
    train = frame.iloc[:40]  # 30 rows of the first town, 10 of the second
    scaler = fit_scaler(train, CLUSTER_SCHEMA)
    centers = sorted(map(tuple, np.round(scaler["clusters"]["centers"], 0)))
    assert centers == [(0.0, 0.0), (10.0, 10.0)], scaler["clusters"]
    assert scaler["clusters"]["columns"] == ["x1", "x2"] and scaler["clusters"]["gamma"] == 1.0
    names = scaler["features"]["names"]
    assert names == ["x1", "x2", "cluster_0_similarity", "cluster_1_similarity"]
    # the similarity columns' statistics are those of the training rows: a 30/10 mix of ~1 and ~0
    share = sorted(scaler["features"]["mean"][2:])
    assert share == pytest.approx([0.25, 0.75], abs=0.02)
    assert "clusters" not in fit_scaler(train, SCHEMA)  # off: the scaler is as before


def test_more_clusters_than_distinct_training_points_is_one_error_naming_the_key() -> None:
    train = pd.DataFrame({"x1": [1.0, 1.0, 2.0], "x2": [0.0, 0.0, 0.0], "y": [1.0, 2.0, 3.0]})
    schema = SCHEMA | {
        "cluster_similarity": {"columns": ["x1", "x2"], "clusters": 3, "gamma": 1.0, "seed": 0}
    }
    with pytest.raises(PipelineError) as err:
        fit_scaler(train, schema)
    assert str(err.value).endswith("set dataset.cluster_similarity.clusters to at most 2")
