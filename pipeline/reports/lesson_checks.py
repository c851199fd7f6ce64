"""Each lesson's finding (../shared/LESSONS.md), checked on the runs of its preset.

A check takes the lesson's runs and returns one Finding per claim: the claim, PASS or FAIL,
the numbers it measured (means over seeds where the preset has seeds) and the rule with its
threshold. A claim whose runs are missing FAILs and says what is missing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import fmean, pstdev

from pipeline.reports.paired_test import seed_by_seed


@dataclass(frozen=True)
class LessonRun:
    """One run of a lesson's sweep, as recorded: its params (strings, as MLflow keeps them),
    run-level metrics, tags and the per-epoch curves the lesson reads (index = epoch, 0 the start)."""

    name: str
    params: Mapping[str, str]
    metrics: Mapping[str, float]
    tags: Mapping[str, str] = field(default_factory=dict)
    curves: Mapping[str, Sequence[float]] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return self.tags.get("run_status", "")

    def metric(self, key: str) -> float:
        return float(self.metrics.get(key, math.nan))


@dataclass(frozen=True)
class Finding:
    lesson: str
    claim: str
    passed: bool
    evidence: str  # what was measured, with its numbers
    rule: str  # the threshold that decides PASS
    paired: str = ""  # where variants are compared over seeds: their paired t-test, beside the rule


Check = Callable[[Sequence[LessonRun]], list[Finding]]


def by_param(runs: Sequence[LessonRun], key: str) -> dict[str, list[LessonRun]]:
    """Runs grouped by one param's value, in first-seen order."""
    groups: dict[str, list[LessonRun]] = {}
    for run in runs:
        groups.setdefault(run.params.get(key, "?"), []).append(run)
    return groups


def by_seed(runs: Sequence[LessonRun], value: Callable[[LessonRun], float]) -> dict[str, float]:
    """`value` of each run, by its training.seed."""
    return {r.params.get("training.seed", r.name): value(r) for r in runs}


def mean_of(runs: Sequence[LessonRun], key: str) -> float:
    values = [r.metric(key) for r in runs]
    return fmean(values) if values and all(math.isfinite(v) for v in values) else math.nan


def missing(lesson: str, claim: str, what: str, rule: str) -> Finding:
    return Finding(lesson, claim, False, f"no {what} among the runs", rule)


def target_scaling(runs: Sequence[LessonRun]) -> list[Finding]:
    lesson, groups = "target_scaling", by_param(runs, "training.scale_target")
    raw_rule = "the raw-target run is recorded as diverged, in epoch 1"
    scaled_rule = (
        "the scaled-target run finishes with validation MSE < 1 (better than the mean) and a falling loss"
    )
    out = []
    raw = groups.get("False", [])
    if not raw:
        out.append(missing(lesson, "a raw target diverges", "run with training.scale_target=false", raw_rule))
    else:
        r = raw[0]
        where = f"epoch {r.tags.get('diverged_epoch', '?')}, batch {r.tags.get('diverged_batch', '?')}"
        ok = r.status == "diverged" and r.tags.get("diverged_epoch") == "1"
        out.append(
            Finding(lesson, "a raw target diverges", ok, f"status {r.status or '?'}, at {where}", raw_rule)
        )
    scaled = groups.get("True", [])
    if not scaled:
        out.append(
            missing(lesson, "a scaled target converges", "run with training.scale_target=true", scaled_rule)
        )
    else:
        r = scaled[0]
        loss = list(r.curves.get("train_loss", []))
        val = r.metric("validation_mse_scaled")
        falling = len(loss) > 1 and loss[-1] < loss[0]
        ok = r.status in ("finished", "early_stopped") and val < 1.0 and falling
        start, end = (f"{loss[0]:.3g}", f"{loss[-1]:.3g}") if loss else ("?", "?")
        text = f"status {r.status}, training loss {start} -> {end}, validation MSE {val:.3f}"
        out.append(Finding(lesson, "a scaled target converges", ok, text, scaled_rule))
    return out


SEED_SPREAD_RATIO = 2.0
VAL = "validation_mse_scaled"


def initializers(runs: Sequence[LessonRun]) -> list[Finding]:
    lesson, groups = "initializers", by_param(runs, "model.initializer")
    out = []
    zeros = groups.get("zeros", [])
    rule = "zeros: every hidden unit identical at the end (distinct units = 1/width); any other: all distinct"
    if not zeros:
        out.append(missing(lesson, "zeros leaves every hidden unit identical", "zeros run", rule))
    else:
        widths = [r.metric("model.width") for r in zeros]
        shares = [r.metric("distinct_units_end") for r in zeros]
        others = [
            r.metric("distinct_units_end") for name, rs in groups.items() if name != "zeros" for r in rs
        ]
        ok = all(abs(s * w - 1) < 1e-9 for s, w in zip(shares, widths, strict=True)) and all(
            o == 1 for o in others
        )
        text = (
            f"zeros: {shares[0] * widths[0]:.0f} distinct unit(s) of {widths[0]:.0f} in {len(zeros)} run(s); "
            f"the other initializers: smallest share of distinct units {min(others, default=math.nan):.2f}"
        )
        out.append(Finding(lesson, "zeros leaves every hidden unit identical", ok, text, rule))
    rule = (
        f"the spread of the initializers' mean validation MSE (zeros left out) is at most "
        f"{SEED_SPREAD_RATIO:g}x the mean spread over seeds of one initializer (standard deviations)"
    )
    means = {n: mean_of(rs, "validation_mse_scaled") for n, rs in groups.items() if n != "zeros"}
    seeds = [
        pstdev([r.metric("validation_mse_scaled") for r in rs]) for n, rs in groups.items() if n != "zeros"
    ]
    if len(means) < 2 or min(len(rs) for rs in groups.values()) < 2:
        out.append(
            missing(lesson, "the shallow net barely cares", "two initializers with two seeds each", rule)
        )
    else:
        between, within = pstdev(means.values()), fmean(seeds)
        best, worst = min(means, key=means.get), max(means, key=means.get)
        text = (
            f"across initializers {between:.4f}, across seeds {within:.4f} (ratio {between / within:.2f}); "
            f"mean validation MSE from {means[best]:.4f} ({best}) to {means[worst]:.4f} ({worst})"
        )
        ok = between <= SEED_SPREAD_RATIO * within
        val = [by_seed(groups[n], lambda r: r.metric(VAL)) for n in (best, worst)]
        t = seed_by_seed(*val, f"validation MSE, {worst} - {best}")
        out.append(Finding(lesson, "the shallow net barely cares about its initializer", ok, text, rule, t))
    return out


BARELY = 0.05  # relative change of the training loss that counts as "barely moves"


def learning_rates(runs: Sequence[LessonRun]) -> list[Finding]:
    lesson, groups = (
        "learning_rates",
        {float(k): v for k, v in by_param(runs, "optimizer.learning_rate").items()},
    )
    out = []
    small_rule = f"over the run, the training loss changes by less than {BARELY:.0%} of its start"
    large_rule = "diverged, or the last epoch's training loss is above twice the lowest it reached"
    if not groups:
        return [missing(lesson, "1e-6 barely moves, 1 diverges or oscillates", "run", small_rule)]
    small, large = min(groups), max(groups)
    loss = list(groups[small][0].curves.get("train_loss", []))
    change = abs(loss[-1] - loss[0]) / loss[0] if len(loss) > 1 else math.nan
    text = (
        f"lr {small:g}: training loss {loss[0]:.4g} -> {loss[-1]:.4g} "
        f"in {len(loss) - 1} epochs ({change:.2%})"
        if loss
        else "no curve"
    )
    out.append(
        Finding(
            lesson, f"a learning rate of {small:g} barely moves the loss", change < BARELY, text, small_rule
        )
    )
    r = groups[large][0]
    loss = [v for v in r.curves.get("train_loss", []) if math.isfinite(v)]
    if r.status == "diverged":
        ok, text = True, f"lr {large:g}: diverged in epoch {r.tags.get('diverged_epoch', '?')}"
    elif loss:
        ok = loss[-1] > 2 * min(loss)
        text = f"lr {large:g}: status {r.status}, training loss lowest {min(loss):.4g}, last {loss[-1]:.4g}"
    else:
        ok, text = False, f"lr {large:g}: no curve"
    out.append(Finding(lesson, f"a learning rate of {large:g} diverges or oscillates", ok, text, large_rule))
    return out


RESTORED_TOLERANCE = 1e-3  # the kept model's validation MSE against the best epoch's loss, relative


def early_stopping(runs: Sequence[LessonRun]) -> list[Finding]:
    lesson = "early_stopping"
    stopping = [r for r in runs if r.params.get("training.early_stopping.enabled") == "True"]
    rule = (
        "each run with early stopping ends before the epoch cap, at best_epoch + patience, with best_epoch "
        f"the lowest validation loss and the kept model's validation MSE "
        f"within {RESTORED_TOLERANCE:.0e} of it"
    )
    if not stopping:
        return [
            missing(
                lesson,
                "early stopping stops before the cap and keeps the best epoch",
                "early-stopping run",
                rule,
            )
        ]
    parts, ok = [], True
    for r in stopping:
        cap, ran = int(r.params.get("training.epochs", "0")), int(r.metric("epochs_run"))
        patience = int(r.params.get("training.early_stopping.patience", "0"))
        val = list(r.curves.get("val_loss", []))
        best = int(r.tags.get("best_epoch", "-1"))
        lowest = min(range(1, len(val)), key=lambda e: val[e]) if len(val) > 1 else -2
        restored = r.metric("validation_mse_scaled")
        at_best = val[best] if 0 <= best < len(val) else math.nan
        same = abs(restored - at_best) <= RESTORED_TOLERANCE * abs(at_best)
        ok &= ran < cap and best == lowest and ran == best + patience and same
        parts.append(
            f"patience {patience}: stopped at {ran} of {cap}, best epoch {best} "
            f"(lowest validation loss: {lowest}), "
            f"kept model's validation MSE {restored:.4f} against {at_best:.4f} at the best epoch"
        )
    return [
        Finding(
            lesson, "early stopping stops before the cap and keeps the best epoch", ok, "; ".join(parts), rule
        )
    ]


def by_size(runs: Sequence[LessonRun]) -> dict[float, list[LessonRun]]:
    groups: dict[float, list[LessonRun]] = {}
    for r in runs:
        groups.setdefault(r.metric("param_count"), []).append(r)
    return groups


def seed_means(runs: Sequence[LessonRun]) -> list[tuple[float, float, float]]:
    """(param_count, mean train MSE, mean validation MSE) per network size, smallest first."""
    return sorted((n, mean_of(rs, "train_mse_scaled"), mean_of(rs, VAL)) for n, rs in by_size(runs).items())


OVERFIT_RATIO = 2.0
FALLING_RHO = -0.8  # size against training error: -1 falls at every step


def rank_correlation(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rho of two equally long sequences without ties: 1 - 6 sum d^2 / (n (n^2 - 1))."""
    rank_x = {i: r for r, i in enumerate(sorted(range(len(x)), key=lambda i: x[i]))}
    rank_y = {i: r for r, i in enumerate(sorted(range(len(y)), key=lambda i: y[i]))}
    n = len(x)
    return 1 - 6 * sum((rank_x[i] - rank_y[i]) ** 2 for i in range(n)) / (n * (n * n - 1))


def capacity(lesson: str, what: str) -> Check:
    """Training error falls with `what` (width or depth), the biggest network overfits, and
    validation error is lowest at a size between the smallest and the biggest."""

    def check(runs: Sequence[LessonRun]) -> list[Finding]:
        sizes = seed_means(runs)
        if len(sizes) < 3:
            return [missing(lesson, f"capacity ({what})", "three network sizes", "three sizes or more")]
        train = [t for _, t, _ in sizes]
        val = [v for _, _, v in sizes]
        table = ", ".join(f"{n:.0f} params: train {t:.3f} / val {v:.3f}" for n, t, v in sizes)
        rho = rank_correlation(list(range(len(train))), train)
        rule = f"Spearman's rank correlation of network size and mean training MSE at most {FALLING_RHO:g}"
        text = f"{table}; rank correlation {rho:.2f}"
        out = [Finding(lesson, f"training error falls with {what}", rho <= FALLING_RHO, text, rule)]
        ratio = val[-1] / train[-1] if train[-1] > 0 else math.inf
        rule = f"the biggest network's validation MSE is at least {OVERFIT_RATIO:g}x its training MSE"
        text = f"biggest: validation {val[-1]:.3f} against training {train[-1]:.3f} ({ratio:.1f}x)"
        out.append(Finding(lesson, "the biggest network overfits", ratio >= OVERFIT_RATIO, text, rule))
        best = val.index(min(val))
        groups = by_size(runs)

        def at(i: int) -> dict[str, float]:
            return by_seed(groups.get(sizes[i][0], []), lambda r: r.metric(VAL))

        pairs = [(n, i) for n, i in (("smallest", 0), ("biggest", len(sizes) - 1)) if i != best]
        paired = "; ".join(seed_by_seed(at(best), at(i), f"validation MSE, {n} - best") for n, i in pairs)
        rule = "the lowest mean validation MSE is at a size strictly between the smallest and the biggest"
        text = (
            f"lowest validation MSE {val[best]:.3f} at {sizes[best][0]:.0f} params "
            f"(smallest {val[0]:.3f}, biggest {val[-1]:.3f})"
        )
        helps = 0 < best < len(val) - 1
        out.append(Finding(lesson, f"more {what} helps, up to a point", helps, text, rule, paired))
        return out

    return check
