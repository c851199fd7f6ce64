"""The paired t-test behind every seed-by-seed verdict (pipeline.reports.paired_test), on
differences whose answer is known: a real lead, a pair that is even, differences that are
all equal, a single seed."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from pipeline.reports.paired_test import MAX_SEEDS, paired_test, seed_by_seed


def test_a_real_lead_is_found_with_the_hand_computed_p_value_and_interval() -> None:
    differences = [1.0, 1.1, 0.9, 1.05]
    test = paired_test([0.0] * 4, differences)
    n, mean = 4, sum(differences) / 4
    sd = math.sqrt(sum((d - mean) ** 2 for d in differences) / (n - 1))
    t = mean / (sd / math.sqrt(n))
    half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    assert test is not None and test.leads and test.verdict == "leads"
    assert (test.n, test.mean, test.sd) == pytest.approx((4, 1.0125, sd))
    assert test.p == pytest.approx(2 * stats.t.sf(t, n - 1)) and test.p < 0.001
    assert (test.low, test.high) == pytest.approx((mean - half, mean + half))
    assert test.low > 0  # the interval excludes zero
    assert test.seeds_needed is None and test.settle() == ""


def test_an_even_pair_cannot_be_told_apart_and_no_number_of_seeds_would_settle_it() -> None:
    test = paired_test([0.0] * 4, [0.1, -0.1, 0.05, -0.05])
    assert test is not None and not test.leads and not test.tie
    assert test.verdict == "cannot tell with 4 seeds"
    assert test.p == pytest.approx(1.0) and test.low < 0 < test.high
    assert test.settle() == f"more than {MAX_SEEDS} seeds would be needed"


def test_a_small_lead_within_a_wide_spread_says_how_many_seeds_would_settle_it() -> None:
    # the three seeds: a mean difference (0.0198) above its standard deviation (0.018)
    test = paired_test([0.0] * 3, [0.0398, 0.0048, 0.0148])
    assert test is not None and test.verdict == "cannot tell with 3 seeds"
    assert test.p == pytest.approx(0.197, abs=1e-3) and test.low < 0 < test.high
    n = test.seeds_needed
    assert n is not None and 3 < n <= MAX_SEEDS
    # n seeds with this mean and spread would exclude zero; n - 1 would not
    assert stats.t.ppf(0.975, n - 1) * test.sd / math.sqrt(n) < test.mean
    assert stats.t.ppf(0.975, n - 2) * test.sd / math.sqrt(n - 1) >= test.mean
    assert test.settle() == f"about {n} seeds would settle it"


def test_equal_differences_are_a_lead_when_nonzero_and_a_tie_when_zero() -> None:
    lead = paired_test([0.5, 0.4, 0.3], [0.7, 0.6, 0.5])  # 0.2 each, up to float rounding
    assert lead is not None and lead.leads and lead.p == 0.0 and lead.sd == 0.0
    assert lead.low == lead.high == pytest.approx(0.2)
    tie = paired_test([0.5, 0.4], [0.5, 0.4])
    assert tie is not None and tie.tie and not tie.leads and tie.verdict == "tie" and tie.p == 1.0
    assert tie.settle() == ""


def test_one_seed_gives_no_test() -> None:
    assert paired_test([0.5], [0.6]) is None
    line = seed_by_seed({"1": 0.5}, {"1": 0.6, "2": 0.7}, "b - a")
    assert line == "b - a: fewer than 2 shared seeds, no test"


def test_a_report_line_pairs_values_by_seed() -> None:
    a = {"1": 0.0, "2": 0.0, "3": 0.0, "4": 0.0}
    line = seed_by_seed(a, {"4": 1.05, "3": 0.9, "2": 1.1, "1": 1.0}, "b - a")  # paired by key
    assert line.startswith("b - a: +1.01 over 4 seeds (95 % CI 0.877 to 1.15, paired t-test p = 0.00016)")
    assert line.endswith(", leads")
