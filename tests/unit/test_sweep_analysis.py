"""The sweep's analysis (pipeline.reports.sweep_analysis) on made-up sweeps whose answer is
known: a lead that holds on every seed, one a paired t-test cannot tell from noise, a tie,
a search where only the learning rate matters, curves whose mean and spread over seeds are
known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgb

from pipeline.reports.comparison import write_report
from pipeline.reports.sweep_analysis import (
    paired_verdict,
    parameter_importance,
    seed_bands,
    seed_bands_figure,
    terminal_verdict,
)

METRIC = "validation_mse_scaled"


def seeds_table(scores: dict[str, list[float]]) -> pd.DataFrame:
    rows = [
        {
            "run": name,
            "run_id": f"{name}-{seed}",
            "optimizer.name": name,
            "training.seed": str(seed),
            METRIC: value,
        }
        for name, values in scores.items()
        for seed, value in enumerate(values, 1)
    ]
    return pd.DataFrame(rows)


def test_a_lead_on_every_seed_is_tested_and_given_its_interval() -> None:
    frame = seeds_table({"sgd": [0.50, 0.52, 0.49], "adam": [0.45, 0.46, 0.45]})
    verdict = paired_verdict(frame, METRIC)
    assert verdict == (
        "adam beats sgd on 3 of 3 seeds by 0.05 in validation_mse_scaled (lower is better; "
        "95 % CI 0.0252 to 0.0748, paired t-test p = 0.013)"
    )


def test_a_lead_above_its_spread_on_three_seeds_cannot_be_told() -> None:
    # the old rule of thumb (mean difference above its standard deviation) called this a lead
    frame = seeds_table({"sgd": [0.4898, 0.4548, 0.4648], "adam": [0.45, 0.45, 0.45]})
    verdict = paired_verdict(frame, METRIC)
    assert verdict is not None and verdict.startswith(
        "cannot tell adam from sgd with 3 seeds: adam lower on 3 of 3 by 0.0198 in validation_mse_scaled"
    )
    assert "95 % CI -0.025 to 0.0646, paired t-test p = 0.2)" in verdict
    assert verdict.endswith("; about 6 seeds would settle it")
    shown = terminal_verdict(frame, METRIC, 120)
    assert shown is not None and shown.startswith("seed by seed: cannot tell adam from sgd")
    assert len(shown.splitlines()) == 2 and all(len(line) <= 120 for line in shown.splitlines())


def test_a_lead_that_flips_between_seeds_cannot_be_told() -> None:
    frame = seeds_table({"sgd": [0.50, 0.40, 0.55], "adam": [0.45, 0.47, 0.46]})
    verdict = paired_verdict(frame, METRIC)
    assert verdict is not None
    assert verdict.startswith("cannot tell adam from sgd with 3 seeds: adam lower on 2 of 3")
    assert paired_verdict(frame[frame["training.seed"] == "1"], METRIC) is None  # one seed: no verdict
    assert terminal_verdict(frame[frame["training.seed"] == "1"], METRIC, 120) is None


def test_variants_equal_on_every_seed_tie() -> None:
    frame = seeds_table({"sgd": [0.5, 0.4], "adam": [0.5, 0.4]})
    tie = "adam and sgd tie: the same validation_mse_scaled on each of 2 seeds"
    assert paired_verdict(frame, METRIC) == tie


def test_a_search_where_only_the_learning_rate_matters_says_so() -> None:
    rng = np.random.default_rng(0)
    rates = 10 ** rng.uniform(-4, 0, 40)
    widths = rng.integers(1, 100, 40)
    score = (np.log10(rates) + 2) ** 2 + rng.normal(0, 0.01, 40)  # best at 0.01, width is noise
    frame = pd.DataFrame(
        {
            "run": [f"t{i}" for i in range(40)],
            "optimizer.learning_rate": [str(r) for r in rates],
            "model.width": [str(w) for w in widths],
            METRIC: score,
        }
    )
    importance = parameter_importance(frame, METRIC)
    assert list(importance["parameter"]) == ["optimizer.learning_rate", "model.width"]
    assert importance["importance"].iloc[0] > 0.8
    assert parameter_importance(frame.head(5), METRIC).empty  # too few trials to say


def test_curves_over_seeds_are_averaged_per_variant_with_their_spread(tmp_path) -> None:
    frame = seeds_table({"sgd": [0.5, 0.5], "adam": [0.4, 0.4]})
    curves = {  # by run id: the runs of a variant share its name
        "sgd-1": [(1, 1.0), (2, 0.5), (3, 0.4)],
        "sgd-2": [(1, 3.0), (2, 1.5)],  # stopped early: the shared epochs only
        "adam-1": [(1, 2.0), (2, 1.0)],
        "adam-2": [(1, 2.0), (2, 1.0)],
    }
    bands = seed_bands(frame, curves)
    epochs, mean, std = bands["sgd"]
    assert list(epochs) == [1, 2] and list(mean) == [2.0, 1.0]
    assert std == pytest.approx([np.sqrt(2), np.sqrt(0.5)])
    assert list(bands["adam"][2]) == [0.0, 0.0]

    ax = seed_bands_figure(bands).axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["sgd"].get_xdata()) == [1, 2] and list(lines["sgd"].get_ydata()) == [2.0, 1.0]
    band = ax.collections[0].get_paths()[0].vertices[:, 1]  # sgd's: mean +/- one standard deviation
    assert (band.min(), band.max()) == pytest.approx((1 - np.sqrt(0.5), 2 + np.sqrt(2)))
    assert to_rgb(ax.collections[0].get_facecolor()[0]) == to_rgb(lines["sgd"].get_color())  # its colour
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "epoch"

    written = write_report(frame, curves, tmp_path, METRIC)
    names = {p.name for p in written}
    assert {"learning_curves_over_seeds.png", "comparison.md"} <= names
    assert "adam beats sgd on 2 of 2 seeds" in (tmp_path / "comparison.md").read_text()
