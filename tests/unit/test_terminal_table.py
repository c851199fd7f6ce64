"""The printed comparison fits the terminal; the full table stays in the files."""

from __future__ import annotations

import math
import re

import pandas as pd

from pipeline.reports.terminal_table import fit_to_width, headline_columns

METRIC = "validation_mse_scaled"


def wide_frame() -> pd.DataFrame:
    """A search's comparison: 16 columns, long run names, as comparison_frame makes it."""
    rows = []
    for i in range(4):
        rows.append(
            {
                "run": f"depth{i}-width{37 + i}-lr0.00873190773939920{i}",
                "model.depth": i,
                "model.width": 37 + i,
                "optimizer.learning_rate": 0.008731907739399207 * (i + 1),
                "train_mse_scaled": 0.51234 + i,
                METRIC: 0.6 + i / 10,
                "test_mse_scaled": 0.7,
                "test_rmse_original": 61234.5,
                "test_r2_original": 0.61,
                "cv_val_mse_mean": 0.62 + i,
                "cv_val_mse_std": 0.03,
                "max_grad_norm": 4.2,
                "dead_fraction_end": math.nan,
                "epochs": "100",
                "status": "finished",
                "note": "stopped at epoch 61, restored 58" if i else "",
                "run_id": "0123456789abcdef0123456789abcdef",
            }
        )
    return pd.DataFrame(rows)


def test_the_headline_is_run_swept_params_objective_spread_epochs_status() -> None:
    columns = headline_columns(wide_frame(), METRIC)
    assert columns == [
        "run",
        "model.depth",
        "model.width",
        "optimizer.learning_rate",
        METRIC,
        "cv_val_mse_std",
        "epochs",
        "status",
    ]


def test_within_120_columns_everything_that_matters_is_shown() -> None:
    frame = wide_frame()
    text = fit_to_width(frame, headline_columns(frame, METRIC), 120, ("run", METRIC, "status"))
    lines = text.splitlines()
    assert all(len(line) <= 120 for line in lines), text
    assert lines[0].split() == [
        "run",
        "depth",
        "width",
        "learning_rate",
        METRIC,
        "cv_val_mse_std",
        "epochs",
        "status",
    ]
    assert len(lines) == 5  # header, four runs, no note: nothing was left out
    assert lines[1].startswith("depth0-width37-lr0.00873") and "finished" in lines[1]


def test_in_80_columns_the_least_important_go_first_and_are_named() -> None:
    frame = wide_frame()
    text = fit_to_width(frame, headline_columns(frame, METRIC), 80, ("run", METRIC, "status"))
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines), text
    header = lines[0].split()
    assert header[0] == "run" and METRIC in header and header[-1] == "status"
    assert "epochs" not in header
    assert re.fullmatch(r"\(2 more in comparison.md: cv_val_mse_std, epochs\)", lines[-1])


def test_in_44_columns_run_names_are_cut_not_wrapped() -> None:
    frame = wide_frame()
    text = fit_to_width(frame, ["run", METRIC, "status"], 44, ("run", METRIC, "status"))
    lines = text.splitlines()
    assert all(len(line) <= 44 for line in lines), text
    assert lines[1].split()[0].endswith("…") and lines[1].split()[1] == "0.6"
