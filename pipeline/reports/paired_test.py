"""How sure a seed-by-seed comparison is: a paired t-test at the 5 % level and the 95 % t
interval of the mean paired difference, with a rough count of the seeds that would settle
it. Used by the sweep's verdict (pipeline.reports.sweep_analysis) and the lessons' reports.

Why a t-test: Wilcoxon's signed-rank test cannot reach 5 % below 6 pairs, and sweeps here
repeat 2 to 5 seeds. A rule of thumb (mean difference above its standard deviation) calls a
tie a lead with three seeds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

LEVEL = 0.05  # two-sided
EQUAL = 1e-12  # differences this close (relative) are equal: float rounding, not spread
MAX_SEEDS = 1000  # the count of seeds that would settle it is not searched beyond this


@dataclass(frozen=True)
class PairedTest:
    """The test of `b - a` over paired seeds. `seeds_needed` is None when the difference is
    settled (a lead, or a tie that is exactly zero on every seed), MAX_SEEDS + 1 when more
    than MAX_SEEDS seeds would be needed (or no number would do: a mean of zero)."""

    n: int
    mean: float  # mean paired difference, b - a
    sd: float  # its standard deviation (ddof 1)
    p: float  # two-sided paired t-test
    low: float  # 95 % t interval of the mean difference
    high: float
    leads: bool  # p < LEVEL: the interval excludes zero
    tie: bool  # every difference exactly zero
    seeds_needed: int | None

    @property
    def verdict(self) -> str:
        """`leads`, `tie`, or `cannot tell with N seeds`."""
        return "leads" if self.leads else "tie" if self.tie else f"cannot tell with {self.n} seeds"

    def interval(self) -> str:
        """`95 % CI 0.0012 to 0.0384, paired t-test p = 0.04`."""
        return f"95 % CI {self.low:.3g} to {self.high:.3g}, paired t-test p = {self.p:.2g}"

    def settle(self) -> str:
        """`about 9 seeds would settle it`, `more than 1000 seeds would be needed`, or ``
        when it is settled."""
        if self.seeds_needed is None:
            return ""
        if self.seeds_needed > MAX_SEEDS:
            return f"more than {MAX_SEEDS} seeds would be needed"
        return f"about {self.seeds_needed} seeds would settle it"


def seeds_to_settle(mean: float, sd: float) -> int:
    """The fewest seeds n (2 to MAX_SEEDS) for which, with this mean and standard deviation of
    the paired differences, the 95 % t interval would exclude zero:
    t_{0.975, n-1} * sd / sqrt(n) < |mean|. MAX_SEEDS + 1 when none does."""
    import numpy as np
    from scipy import stats

    if sd == 0:
        return 2 if mean != 0 else MAX_SEEDS + 1
    n = np.arange(2, MAX_SEEDS + 1)
    settled = np.flatnonzero(stats.t.ppf(1 - LEVEL / 2, n - 1) * sd / np.sqrt(n) < abs(mean))
    return int(n[settled[0]]) if settled.size else MAX_SEEDS + 1


def paired_test(a: Sequence[float], b: Sequence[float]) -> PairedTest | None:
    """The paired t-test (scipy.stats.ttest_rel, two-sided) of `b - a`, seed by seed: a[i] and
    b[i] are the two variants' values on the same seed. Promises: the mean difference, the
    p-value, the 95 % t interval (mean +/- t_{0.975, n-1} * sd / sqrt(n)), `leads` exactly
    when p < 0.05 (the interval excludes zero), and when it does not, the seeds that would
    settle it were the spread the same. Differences that are all equal (to EQUAL, relative)
    are handled without a division: a nonzero one is a lead (p 0, the interval that one
    value), zero a tie (p 1). None with fewer than two pairs; a and b of different lengths
    are a ValueError."""
    from scipy import stats

    if len(a) != len(b):
        raise ValueError(f"paired values need as many of each: {len(a)} and {len(b)}")
    differences = [float(y) - float(x) for x, y in zip(a, b, strict=True)]
    n = len(differences)
    if n < 2:
        return None
    mean = math.fsum(differences) / n
    sd = math.sqrt(math.fsum((d - mean) ** 2 for d in differences) / (n - 1))
    if sd <= EQUAL * max(abs(d) for d in differences):  # all equal, up to float rounding
        lead = mean != 0
        p = 0.0 if lead else 1.0
        return PairedTest(n, mean, 0.0, p, mean, mean, lead, not lead, None)
    p = float(stats.ttest_rel(b, a).pvalue)
    half = float(stats.t.ppf(1 - LEVEL / 2, n - 1)) * sd / math.sqrt(n)
    leads = p < LEVEL
    needed = None if leads else seeds_to_settle(mean, sd)
    return PairedTest(n, mean, sd, p, mean - half, mean + half, leads, False, needed)


def seed_by_seed(a: Mapping[str, float], b: Mapping[str, float], what: str) -> str:
    """One line for a report: `what` (b - a) over the seeds (keys) where both are finite, e.g.
    `L2 0.01 - none: -0.021 over 3 seeds (95 % CI -0.04 to -0.002, paired t-test p = 0.04),
    leads`, or `... cannot tell with 3 seeds; about 9 seeds would settle it`, or that fewer
    than two seeds are shared."""
    seeds = sorted(k for k in a.keys() & b.keys() if math.isfinite(a[k]) and math.isfinite(b[k]))
    test = paired_test([a[k] for k in seeds], [b[k] for k in seeds])
    if test is None:
        return f"{what}: fewer than 2 shared seeds, no test"
    settle = f"; {test.settle()}" if test.settle() else ""
    return f"{what}: {test.mean:+.3g} over {test.n} seeds ({test.interval()}), {test.verdict}{settle}"
