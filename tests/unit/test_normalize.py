"""normalize: schema checks, blank rows, one-hot encoding, the target kept."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from pipeline.core.config import DatasetConfig
from pipeline.core.errors import PipelineError
from pipeline.data.normalize import normalize

SOURCE = "facebook.csv"


def facebook(**changes: Any) -> DatasetConfig:
    spec: dict[str, Any] = {
        "name": "facebook",
        "path": SOURCE,
        "separator": ";",
        "target": "like",
        "features": ["Page total likes", "Type", "Category", "Paid"],
        "categorical": ["Type", "Category"],
    }
    return DatasetConfig(**(spec | changes))


def facebook_frame() -> pd.DataFrame:
    """Six posts; row 2 has a blank unused column, row 4 a blank `Paid` and `Category`."""
    return pd.DataFrame(
        {
            "Page total likes": [139441, 139441, 138414, 138414, 137020, 137020],
            "Type": ["Photo", "Status", "Photo", "Link", "Video", "Photo"],
            "Category": [2.0, 2.0, 3.0, 1.0, np.nan, 1.0],
            "Post Month": [12, 12, 12, 12, 11, 11],
            "Paid": [0.0, 0.0, 1.0, 0.0, np.nan, 1.0],
            "comment": [4.0, 5.0, np.nan, 9.0, 1.0, 0.0],
            "like": [79, 130, 66, 1572, 325, 152],
        }
    )


def test_blank_rows_dropped_one_hot_and_target_kept() -> None:
    encoded, schema = normalize(facebook_frame(), facebook(), SOURCE)
    # rows 2 (blank `comment`, unused) and 4 (blank `Paid`) are dropped, as the course does
    assert encoded["like"].tolist() == [79.0, 130.0, 1572.0, 152.0]
    assert encoded["Page total likes"].tolist() == [139441.0, 139441.0, 138414.0, 137020.0]
    assert list(encoded.columns) == [
        "Page total likes",
        "Paid",
        "Type_Link",
        "Type_Photo",
        "Type_Status",
        "Category_1",
        "Category_2",
        "like",
    ]
    assert encoded["Type_Photo"].tolist() == [1.0, 0.0, 0.0, 1.0]
    assert encoded["Category_1"].tolist() == [0.0, 0.0, 1.0, 1.0]
    assert (encoded.dtypes == "float64").all()
    assert schema["target"] == "like"
    assert schema["numeric"] == ["Page total likes", "Paid"]
    assert schema["categorical"] == {"Type": ["Link", "Photo", "Status"], "Category": ["1", "2"]}
    assert schema["encoded_features"] == list(encoded.columns[:-1])
    assert schema["raw_features"] == ["Page total likes", "Type", "Category", "Paid"]


def test_all_columns_but_target_are_features_when_none_given() -> None:
    frame = pd.DataFrame({"x1": [1.0, 2.0], "x2": [3, 4], "y": [0.5, 0.7]})
    dataset = DatasetConfig(name="csv", path="f.csv", separator=",", target="y")
    encoded, schema = normalize(frame, dataset, "f.csv")
    assert schema["encoded_features"] == ["x1", "x2"]
    assert encoded["y"].tolist() == [0.5, 0.7]


def test_keep_blank_rows_refuses_blanks_in_used_columns() -> None:
    with pytest.raises(PipelineError) as info:
        normalize(facebook_frame(), facebook(drop_blank_rows=False), SOURCE)
    message = str(info.value)
    assert message.startswith(SOURCE)
    assert "['Category', 'Paid']" in message
    assert "line 6" in message  # row index 4, after the header line
    assert "1 row(s)" in message
    assert "comment" not in message
    assert "dataset.drop_blank_rows=true" in message


def test_keep_blank_rows_ignores_blanks_in_unused_columns() -> None:
    frame = facebook_frame().drop(index=4).reset_index(drop=True)
    encoded, _ = normalize(frame, facebook(drop_blank_rows=False), SOURCE)
    assert len(encoded) == 5  # the row with a blank `comment` is kept


def test_non_numeric_values_in_two_columns_are_reported_together() -> None:
    frame = pd.DataFrame(
        {
            "a": ["1", "n/a", "3", "4"],
            "b": ["0.5", "0.7", "1,5", "2"],
            "y": [1.0, 2.0, 3.0, 4.0],
        }
    )
    dataset = DatasetConfig(name="csv", path="f.csv", separator=",", target="y")
    with pytest.raises(PipelineError) as info:
        normalize(frame, dataset, "f.csv")
    message = str(info.value)
    assert "'a' has non-numeric values ['n/a'] (line 3)" in message
    assert "'b' has non-numeric values ['1,5'] (line 4)" in message


def test_non_numeric_line_counts_rows_dropped_for_blanks() -> None:
    # line 2 has a blank cell and is dropped; 'n/a' is on line 4 of the file
    frame = pd.DataFrame({"a": [np.nan, "1", "n/a"], "y": [1.0, 2.0, 3.0]})
    dataset = DatasetConfig(name="csv", path="f.csv", separator=",", target="y")
    with pytest.raises(PipelineError, match=r"'a' has non-numeric values \['n/a'\] \(line 4\)"):
        normalize(frame, dataset, "f.csv")


def test_non_numeric_target_is_reported() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0], "y": ["1", "two"]})
    dataset = DatasetConfig(name="csv", path="f.csv", separator=",", target="y")
    with pytest.raises(PipelineError, match=r"'y' has non-numeric values \['two'\]"):
        normalize(frame, dataset, "f.csv")


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_infinite_values_are_reported(value: float) -> None:
    frame = pd.DataFrame({"x": [1.0, value, 3.0], "y": [1.0, 2.0, 3.0]})
    dataset = DatasetConfig(name="csv", path="f.csv", separator=",", target="y")
    with pytest.raises(PipelineError, match=r"^f\.csv: 'x' has infinite values \(line 3\)$"):
        normalize(frame, dataset, "f.csv")


@pytest.mark.parametrize(
    ("changes", "missing"),
    [
        ({"target": "likes"}, "likes"),
        ({"features": ["Page total likes", "Type", "Category", "Paid", "Hour"]}, "Hour"),
        ({"categorical": ["Type", "Category", "Season"]}, "Season"),
    ],
)
def test_missing_column_lists_the_file_columns(changes: dict[str, Any], missing: str) -> None:
    with pytest.raises(PipelineError) as info:
        normalize(facebook_frame(), facebook(**changes), SOURCE)
    message = str(info.value)
    assert f"missing column(s) ['{missing}']" in message
    for column in facebook_frame().columns:
        assert repr(column) in message


def test_categorical_column_must_be_a_feature() -> None:
    dataset = facebook(features=["Page total likes", "Type", "Paid"])
    with pytest.raises(PipelineError, match=r"dataset\.categorical: \['Category'\]"):
        normalize(facebook_frame(), dataset, SOURCE)


def test_target_cannot_be_a_feature() -> None:
    with pytest.raises(PipelineError, match=r"dataset\.features: the target 'like'"):
        normalize(facebook_frame(), facebook(features=["Paid", "like"], categorical=[]), SOURCE)


def test_no_rows_left_after_dropping_blanks_names_the_blank_columns() -> None:
    frame = pd.DataFrame({"x": [1.0, np.nan], "y": [np.nan, 2.0]})
    dataset = DatasetConfig(name="csv", path="f.csv", separator=",", target="y")
    with pytest.raises(PipelineError) as info:
        normalize(frame, dataset, "f.csv")
    assert str(info.value).startswith(
        "f.csv: every one of the 2 rows has a blank cell (blank cells per column: x (1), y (1)), "
        "so dropping them leaves none"
    )


@pytest.mark.parametrize("drop", [True, False])
def test_a_target_blank_in_every_row_says_so(drop: bool) -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "price": [np.nan] * 3})
    dataset = DatasetConfig(name="csv", path="sales.csv", separator=",", target="price", drop_blank_rows=drop)
    with pytest.raises(PipelineError) as info:
        normalize(frame, dataset, "sales.csv")
    assert str(info.value) == (
        "sales.csv: dataset.target 'price' is blank in every row (lines 2-4): nothing to learn from; "
        "check dataset.target"
    )


def test_a_feature_blank_in_every_row_is_named_with_the_features_to_keep() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "notes": [np.nan] * 3, "z": [1, 2, 3], "y": [1.5, 2.5, 3.5]})
    dataset = DatasetConfig(name="csv", path="sales.csv", separator=",", target="y")
    with pytest.raises(PipelineError) as info:
        normalize(frame, dataset, "sales.csv")
    assert str(info.value) == (
        "sales.csv: column(s) ['notes'] are blank in every row (lines 2-4); "
        "leave them out with 'dataset.features=[x,z]'"
    )


def test_an_unused_column_blank_in_every_row_names_drop_blank_rows() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "Unnamed: 2": [np.nan] * 3, "y": [1.5, 2.5, 3.5]})
    dataset = DatasetConfig(name="csv", path="sales.csv", separator=",", target="y", features=["x"])
    with pytest.raises(PipelineError, match=r"^sales\.csv: unused column\(s\) \['Unnamed: 2'\] are blank"):
        normalize(frame, dataset, "sales.csv")
    encoded, _ = normalize(frame, dataset.model_copy(update={"drop_blank_rows": False}), "sales.csv")
    assert len(encoded) == 3


def test_dropped_blank_rows_are_counted_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    normalize(facebook_frame(), facebook(), SOURCE)
    assert capsys.readouterr().err.splitlines() == [
        "normalize: dropped 2 of 6 rows with a blank cell (columns Category, Paid, comment); "
        "dataset.drop_blank_rows=false refuses them instead"
    ]


def test_nothing_is_said_of_dropped_rows_when_an_error_follows(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(PipelineError):
        normalize(facebook_frame(), facebook(target="likes"), SOURCE)
    assert capsys.readouterr().err == ""  # the error is the one line


def text_column_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rooms": [3, 4, 2, 5],
            "city": ["Berlin", "Rome", "Berlin", "Oslo"],
            "Post Month": [1, 2, 3, 4],
            "price": [210.5, 250.0, 180.0, 320.0],
        }
    )


def test_an_undeclared_text_column_suggests_categorical_or_features() -> None:
    dataset = DatasetConfig(name="csv", path="sales.csv", separator=",", target="price")
    with pytest.raises(PipelineError) as info:
        normalize(text_column_frame(), dataset, "sales.csv")
    assert str(info.value) == (
        "sales.csv: 'city' holds text ['Berlin', 'Rome'] (line 2), not numbers; declare it categorical with "
        "'dataset.categorical=[city]' or leave it out with 'dataset.features=[rooms,\"Post Month\"]'"
    )


def test_the_suggested_overrides_paste_into_bash_and_hydra_as_lists() -> None:
    import shlex

    from hydra.core.override_parser.overrides_parser import OverridesParser

    from pipeline.data.schemas import list_override

    parser = OverridesParser.create()
    names = ["city", "Post Month", "2020", "null", "a,b", "it's"]
    (word,) = shlex.split(list_override("dataset.features", names))  # one word in bash
    assert parser.parse_override(word).value() == names


def test_a_suggested_categorical_list_keeps_the_declared_ones() -> None:
    frame = text_column_frame().assign(kind=["a", "b", "a", "b"])
    dataset = DatasetConfig(name="csv", path="sales.csv", separator=",", target="price", categorical=["kind"])
    with pytest.raises(PipelineError, match=r"'dataset\.categorical=\[kind,city\]'"):
        normalize(frame, dataset, "sales.csv")


def test_auto_says_it_chose_regression(capsys: pytest.CaptureFixture[str]) -> None:
    frame = text_column_frame().drop(columns="city")
    dataset = DatasetConfig(name="csv", path="sales.csv", separator=",", target="price", task="auto")
    _, schema = normalize(frame, dataset, "sales.csv")
    assert schema["task"] == "regression"
    assert capsys.readouterr().err.startswith("note: dataset.task=auto chose regression for 'price' (numbers")


def test_every_problem_is_reported_at_once_in_one_line() -> None:
    frame = pd.DataFrame(
        {
            "a": ["1", "n/a", "3", None],
            "b": ["0.5", "inf", "1,5", "2"],
            "y": [1.0, 2.0, 3.0, 4.0],
        }
    )
    dataset = DatasetConfig(
        name="csv", path="f.csv", separator=",", target="y", features=["a", "b", "c"], drop_blank_rows=False
    )
    with pytest.raises(PipelineError) as info:
        normalize(frame, dataset, "f.csv")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("f.csv: missing column(s) ['c']; the file has ['a', 'b', 'y']")
    assert "1 row(s) have blank cells in ['a'] (first at line 5)" in message
    assert "'a' has non-numeric values ['n/a'] (line 3)" in message
    assert "'b' has non-numeric values ['1,5'] (line 4)" in message
    assert "'b' has infinite values (line 3)" in message


def test_examples_are_the_first_three_offending_values_and_the_first_line() -> None:
    frame = pd.DataFrame({"a": ["1", "e", "d", "c", "b", "a"], "y": [1.0] * 6})
    dataset = DatasetConfig(name="csv", path="f.csv", separator=",", target="y")
    with pytest.raises(PipelineError, match=r"'a' holds text \['c', 'd', 'e'\] \(line 3\), not numbers"):
        normalize(frame, dataset, "f.csv")


def constant_frame() -> pd.DataFrame:
    return pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": [5, 5, 5], "k": ["u", "u", "u"], "y": [1.0, 2.0, 4.0]})


def test_constant_columns_are_kept_by_default_and_listed() -> None:
    dataset = DatasetConfig(name="csv", path="f.csv", separator=",", target="y", categorical=["k"])
    encoded, schema = normalize(constant_frame(), dataset, "f.csv")
    assert schema["constant_columns"] == ["c", "k"]
    assert list(encoded.columns) == ["x", "c", "k_u", "y"]
    assert not encoded.isna().any(axis=None)


def test_constant_columns_are_dropped_when_configured() -> None:
    dataset = DatasetConfig(
        name="csv", path="f.csv", separator=",", target="y", categorical=["k"], constant_columns="drop"
    )
    encoded, schema = normalize(constant_frame(), dataset, "f.csv")
    assert list(encoded.columns) == ["x", "y"]
    assert schema["raw_features"] == ["x"] and schema["categorical"] == {}
    assert schema["constant_columns"] == ["c", "k"]


def test_dropping_every_feature_as_constant_is_refused() -> None:
    dataset = DatasetConfig(
        name="csv", path="f.csv", separator=",", target="y", features=["c"], constant_columns="drop"
    )
    with pytest.raises(PipelineError, match=r"^f\.csv: every feature column is constant \(\['c'\]\)"):
        normalize(constant_frame(), dataset, "f.csv")


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("keep", "warning: f.csv: constant column(s) ['c'] kept unscaled; set dataset.constant_columns=drop"),
        ("drop", "note: f.csv: constant column(s) ['c'] dropped (dataset.constant_columns=drop)"),
    ],
)
def test_constant_notice_says_what_happened(policy: str, expected: str) -> None:
    from pipeline.data.normalize import constant_notice

    assert constant_notice([], policy, "f.csv") is None
    assert (constant_notice(["c"], policy, "f.csv") or "").startswith(expected)


def test_log_features_take_log1p_and_the_served_encoding_repeats_it() -> None:
    from pipeline.data.features import encode

    encoded, schema = normalize(facebook_frame(), facebook(log_features=["Page total likes"]), SOURCE)
    assert encoded["Page total likes"].tolist() == pytest.approx(
        np.log1p([139441, 139441, 138414, 137020]).tolist()
    )
    assert schema["log_numeric"] == ["Page total likes"]
    raw = facebook_frame().iloc[[0]]
    assert encode(raw, schema)["Page total likes"].iloc[0] == pytest.approx(
        np.log1p(139441)
    )  # the served model's path
    with pytest.raises(ValueError, match="'Page total likes': -1.0 is negative"):
        encode(raw.assign(**{"Page total likes": -1.0}), schema)


def test_log_features_refuse_negative_values_and_non_numeric_columns() -> None:
    frame = facebook_frame()
    frame.loc[3, "Page total likes"] = -5
    with pytest.raises(PipelineError) as err:
        normalize(frame, facebook(log_features=["Page total likes"]), SOURCE)
    assert str(err.value).startswith(f"{SOURCE}: column 'Page total likes', line 5: -5 is negative")
    assert str(err.value).endswith("drop it from dataset.log_features")
    with pytest.raises(PipelineError, match="dataset.log_features: 'Type' is not a numeric feature"):
        normalize(facebook_frame(), facebook(log_features=["Type"]), SOURCE)


def test_cluster_similarity_goes_into_the_schema_and_refuses_columns_that_are_not_numeric_features() -> None:
    spec = {"columns": ["Page total likes", "Paid"], "clusters": 2, "gamma": 1.0, "seed": 3}
    _, schema = normalize(facebook_frame(), facebook(cluster_similarity=spec), SOURCE)
    assert schema["cluster_similarity"] == spec
    _, schema = normalize(facebook_frame(), facebook(), SOURCE)
    assert "cluster_similarity" not in schema
    with pytest.raises(PipelineError) as err:
        normalize(facebook_frame(), facebook(cluster_similarity=spec | {"columns": ["Type"]}), SOURCE)
    assert str(err.value).startswith("dataset.cluster_similarity.columns: 'Type' is not a numeric feature")
    assert str(err.value).endswith("numeric features: ['Page total likes', 'Paid']")
    with pytest.raises(PipelineError, match="names a column twice"):
        twice = spec | {"columns": ["Paid", "Paid"]}
        normalize(facebook_frame(), facebook(cluster_similarity=twice), SOURCE)
