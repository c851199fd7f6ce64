"""Feature encoding and standardization shared by training and the served model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.data.features import (
    category_strings,
    encode,
    encoded_names,
    fit_standardizer,
    standardize,
    unstandardize,
)

SCHEMA = {
    "numeric": ["a", "b"],
    "categorical": {"colour": ["blue", "red"], "level": ["1", "2", "3"]},
}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1.0, 2.0, 1.0], ["1", "2", "1"]),
        ([1, 3], ["1", "3"]),
        ([1.5, 2.0], ["1.5", "2.0"]),
        (["Photo", "Status"], ["Photo", "Status"]),
        ([True, False], ["True", "False"]),
    ],
)
def test_category_strings(values: list, expected: list[str]) -> None:
    assert category_strings(pd.Series(values)).tolist() == expected


def test_category_strings_of_integral_floats_match_those_of_ints() -> None:
    as_float = category_strings(pd.Series([1.0, 2.0, np.nan]).dropna())
    as_int = category_strings(pd.Series([1, 2]))
    assert as_float.tolist() == as_int.tolist() == ["1", "2"]


def test_encoded_names_numeric_then_levels() -> None:
    assert encoded_names(SCHEMA["numeric"], SCHEMA["categorical"]) == [
        "a",
        "b",
        "colour_blue",
        "colour_red",
        "level_1",
        "level_2",
        "level_3",
    ]


def test_encode_numeric_then_one_hot_in_schema_order() -> None:
    frame = pd.DataFrame(
        {
            "level": [1.0, 3.0, 2.0],
            "colour": ["red", "blue", "red"],
            "b": ["4", "5", "6"],
            "a": [1, 2, 3],
            "ignored": ["x", "y", "z"],
        },
        index=[10, 11, 12],
    )
    encoded = encode(frame, SCHEMA)
    assert list(encoded.columns) == encoded_names(SCHEMA["numeric"], SCHEMA["categorical"])
    assert (encoded.dtypes == "float64").all()
    assert list(encoded.index) == [10, 11, 12]
    assert encoded["a"].tolist() == [1.0, 2.0, 3.0]
    assert encoded["b"].tolist() == [4.0, 5.0, 6.0]
    assert encoded["colour_red"].tolist() == [1.0, 0.0, 1.0]
    assert encoded["colour_blue"].tolist() == [0.0, 1.0, 0.0]
    assert encoded[["level_1", "level_2", "level_3"]].to_numpy().tolist() == [
        [1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0],
        [0.0, 1.0, 0.0],
    ]


def test_encode_one_hot_rows_sum_to_one() -> None:
    frame = pd.DataFrame({"a": [0, 0], "b": [0, 0], "colour": ["blue", "red"], "level": [2, 2]})
    encoded = encode(frame, SCHEMA)
    assert encoded[["colour_blue", "colour_red"]].sum(axis=1).tolist() == [1.0, 1.0]


def test_encode_names_an_unseen_category() -> None:
    frame = pd.DataFrame({"a": [1], "b": [2], "colour": ["green"], "level": [1]})
    with pytest.raises(ValueError, match=r"'colour'.*'green'") as info:
        encode(frame, SCHEMA)
    assert "blue" in str(info.value) and "red" in str(info.value)


def test_fit_standardizer_mean_and_population_std() -> None:
    values = np.array([[1.0, 10.0], [3.0, 30.0]])
    stats = fit_standardizer(values)
    assert stats["mean"] == [2.0, 20.0]
    assert stats["std"] == [1.0, 10.0]


def test_constant_column_gets_scale_one() -> None:
    values = np.array([[5.0, 1.0], [5.0, 2.0], [5.0, 3.0]])
    stats = fit_standardizer(values)
    assert stats["std"][0] == 1.0
    scaled = standardize(values, stats)
    assert np.isfinite(scaled).all()
    assert scaled[:, 0].tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("value", [5.0, 0.1, 2.675, 139441.7])
def test_constant_float_column_gets_scale_one_despite_rounding(value: float) -> None:
    # the float mean of seven equal values can differ from them in the last bit
    values = np.full((7, 1), value)
    stats = fit_standardizer(values)
    assert stats["std"] == [1.0]
    assert standardize(values, stats) == pytest.approx(np.zeros((7, 1)), abs=1e-9)
    unseen = standardize(np.array([[value + 1.0]]), stats)
    assert unseen == pytest.approx(np.array([[1.0]]), abs=1e-9)


def test_fit_standardizer_of_a_single_column() -> None:
    stats = fit_standardizer(np.array([[2.0], [4.0]]))
    assert stats == {"mean": [3.0], "std": [1.0]}


def test_standardized_columns_have_mean_zero_std_one() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal([3.0, -7.0, 100.0], [0.5, 2.0, 40.0], size=(200, 3))
    scaled = standardize(values, fit_standardizer(values))
    np.testing.assert_allclose(scaled.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(scaled.std(axis=0), 1.0)


def test_standardize_unstandardize_round_trip() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(50.0, 20.0, size=(30, 4))
    stats = fit_standardizer(values[:10])
    np.testing.assert_allclose(unstandardize(standardize(values, stats), stats), values)
    np.testing.assert_allclose(standardize(unstandardize(values, stats), stats), values)


CLUSTERS = {"columns": ["lat", "lon"], "centers": [[0.0, 0.0], [3.0, 4.0]], "gamma": 0.5}


def test_cluster_similarity_is_one_at_a_center_and_falls_with_the_squared_distance() -> None:
    from pipeline.data.features import cluster_similarity

    points = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]])
    similarity = cluster_similarity(points, CLUSTERS)
    assert similarity.shape == (3, 2)
    assert similarity[0].tolist() == pytest.approx([1.0, np.exp(-0.5 * 25)])
    assert similarity[1].tolist() == pytest.approx([np.exp(-0.5 * 25), 1.0])
    assert similarity[2].tolist() == pytest.approx([np.exp(-0.5), np.exp(-0.5 * 18)])


def test_with_similarities_appends_one_named_column_per_center_and_keeps_the_rest() -> None:
    from pipeline.data.features import with_similarities

    encoded = pd.DataFrame({"lon": [4.0, 0.0], "x": [7.0, 8.0], "lat": [3.0, 0.0]}, index=[5, 9])
    out = with_similarities(encoded, CLUSTERS)
    assert list(out.columns) == ["lon", "x", "lat", "cluster_0_similarity", "cluster_1_similarity"]
    assert out.index.tolist() == [5, 9]
    # the columns are taken by name (lat, lon), not by position
    assert out.loc[5, "cluster_1_similarity"] == pytest.approx(1.0)
    assert out.loc[9, "cluster_0_similarity"] == pytest.approx(1.0)
    assert with_similarities(encoded, None) is encoded
