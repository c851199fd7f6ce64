"""Each lesson's check PASSes on runs where the finding holds and FAILs on runs where it does
not (pipeline.reports.lesson_checks, lesson_checks_advanced)."""

from __future__ import annotations

import pytest

from pipeline.reports import lesson_checks as basic
from pipeline.reports import lesson_checks_advanced as advanced
from pipeline.reports.lesson_checks import LessonRun
from pipeline.reports.lesson_report import LessonOutcome, lessons_markdown


def run(
    params: dict[str, object], metrics: dict[str, float], tags: dict[str, str] | None = None, **curves
) -> LessonRun:
    name = "-".join(f"{v}" for v in params.values())
    return LessonRun(
        name, {k: str(v) for k, v in params.items()}, metrics, tags or {"run_status": "finished"}, curves
    )


def verdicts(findings: list[basic.Finding]) -> list[bool]:
    return [f.passed for f in findings]


def scaling_runs(
    raw_status: str = "diverged", raw_epoch: str = "1", scaled_val: float = 0.5
) -> list[LessonRun]:
    return [
        run({"training.scale_target": False}, {}, {"run_status": raw_status, "diverged_epoch": raw_epoch}),
        run(
            {"training.scale_target": True}, {"validation_mse_scaled": scaled_val}, train_loss=[3.0, 1.0, 0.5]
        ),
    ]


def test_target_scaling() -> None:
    assert verdicts(basic.target_scaling(scaling_runs())) == [True, True]
    assert verdicts(basic.target_scaling(scaling_runs(raw_status="finished"))) == [False, True]
    assert verdicts(basic.target_scaling(scaling_runs(raw_epoch="3"))) == [
        False,
        True,
    ]  # not within the first
    assert verdicts(basic.target_scaling(scaling_runs(scaled_val=1.3))) == [True, False]
    assert verdicts(basic.target_scaling(scaling_runs()[:1])) == [True, False]  # a missing run fails, named
    assert "no run with training.scale_target=true" in basic.target_scaling(scaling_runs()[:1])[1].evidence


def init_runs(zeros_distinct: float = 1 / 8, spread: float = 0.001) -> list[LessonRun]:
    runs = [
        run(
            {"model.initializer": "zeros", "training.seed": s},
            {"distinct_units_end": zeros_distinct, "model.width": 8, "validation_mse_scaled": 1.0},
        )
        for s in (1, 2)
    ]
    for i, name in enumerate(("glorot_uniform", "he_normal")):
        for s, noise in ((1, -0.01), (2, 0.01)):
            val = 0.5 + i * spread + noise
            runs.append(
                run(
                    {"model.initializer": name, "training.seed": s},
                    {"distinct_units_end": 1.0, "validation_mse_scaled": val},
                )
            )
    return runs


def test_initializers() -> None:
    assert verdicts(basic.initializers(init_runs())) == [True, True]
    assert verdicts(basic.initializers(init_runs(zeros_distinct=1.0))) == [False, True]  # zeros units differ
    # initializers 0.1 apart while seeds move it by 0.01: the initializer matters
    assert verdicts(basic.initializers(init_runs(spread=0.1))) == [True, False]


def lr_runs(
    small_end: float = 3.38, large_status: str = "diverged", large_curve: list[float] | None = None
) -> list[LessonRun]:
    return [
        run({"optimizer.learning_rate": 1e-6}, {}, train_loss=[3.4, 3.39, small_end]),
        run({"optimizer.learning_rate": 0.01}, {}, train_loss=[3.4, 1.0, 0.5]),
        run(
            {"optimizer.learning_rate": 1.0},
            {},
            {"run_status": large_status},
            train_loss=large_curve or [3.4],
        ),
    ]


def test_learning_rates() -> None:
    assert verdicts(basic.learning_rates(lr_runs())) == [True, True]
    assert verdicts(basic.learning_rates(lr_runs(small_end=2.0))) == [False, True]  # 1e-6 moved it by 41 %
    settled = lr_runs(large_status="finished", large_curve=[3.4, 0.6, 0.5, 0.5])
    assert verdicts(basic.learning_rates(settled)) == [True, False]
    bouncing = lr_runs(large_status="finished", large_curve=[3.4, 0.5, 4.0, 0.6, 2.5])
    assert verdicts(basic.learning_rates(bouncing)) == [True, True]


def stopping_run(
    patience: int, ran: int, best: int, val: list[float], kept: float, enabled: bool = True
) -> LessonRun:
    params = {
        "training.early_stopping.enabled": enabled,
        "training.early_stopping.patience": patience,
        "training.epochs": 500,
    }
    metrics = {"epochs_run": ran, "validation_mse_scaled": kept}
    return run(params, metrics, {"run_status": "early_stopped", "best_epoch": str(best)}, val_loss=val)


def test_early_stopping() -> None:
    val = [2.0, 1.0, 0.6, 0.5, 0.55, 0.58]  # best epoch 3, patience 2: stops at 5
    assert verdicts(basic.early_stopping([stopping_run(2, 5, 3, val, 0.5)])) == [True]
    assert verdicts(basic.early_stopping([stopping_run(2, 5, 3, val, 0.58)])) == [
        False
    ]  # kept the last, not the best
    assert verdicts(basic.early_stopping([stopping_run(2, 5, 5, val, 0.58)])) == [
        False
    ]  # "best" is not the lowest
    assert verdicts(basic.early_stopping([stopping_run(2, 500, 3, val, 0.5)])) == [False]  # ran to the cap
    assert verdicts(basic.early_stopping([stopping_run(2, 5, 3, val, 0.5, enabled=False)])) == [
        False
    ]  # none stops


def capacity_runs(train: list[float], val: list[float]) -> list[LessonRun]:
    return [
        run(
            {"model.hidden_units": f"[{n}]", "training.seed": s},
            {"param_count": n, "train_mse_scaled": t, "validation_mse_scaled": v},
        )
        for n, t, v in zip((10, 100, 1000, 10000), train, val, strict=True)
        for s in (1, 2)
    ]


def test_capacity() -> None:
    check = basic.capacity("capacity_width", "width")
    assert verdicts(check(capacity_runs([0.5, 0.3, 0.1, 0.05], [0.6, 0.4, 0.45, 0.5]))) == [True, True, True]
    # validation error only rising from the smallest network: the "helps" half fails
    assert verdicts(check(capacity_runs([0.5, 0.3, 0.1, 0.05], [0.3, 0.35, 0.4, 0.5]))) == [True, True, False]
    # training error rising with capacity, and no overfitting
    assert verdicts(check(capacity_runs([0.1, 0.2, 0.3, 0.4], [0.6, 0.4, 0.45, 0.5]))) == [False, False, True]


def penalty_run(
    l1: float, l2: float, norm: float, zero: float, train: float, val: float, loss: float
) -> LessonRun:
    metrics = {"model.l1": l1, "model.l2": l2, "kernel_norm_end": norm, "near_zero_weights_end": zero}
    return run(
        {"model.l1": l1, "model.l2": l2},
        metrics | {"train_mse_scaled": train, "validation_mse_scaled": val},
        train_loss=[9.0, loss],
    )


def test_regularization() -> None:
    none = penalty_run(0, 0, 40.0, 0.02, 0.05, 0.40, 0.05)
    l2 = penalty_run(0, 0.001, 10.0, 0.02, 0.15, 0.30, 0.9)
    l1 = penalty_run(0.001, 0, 8.0, 0.50, 0.15, 0.25, 1.5)
    assert verdicts(advanced.regularization([none, l2, l1])) == [True, True, True, True]
    grown = penalty_run(0, 0.001, 39.0, 0.02, 0.15, 0.30, 0.9)  # L2 left the norm where it was
    dense = penalty_run(0.001, 0, 8.0, 0.03, 0.15, 0.25, 1.5)  # L1 left the weights dense
    unfair = penalty_run(0.001, 0, 8.0, 0.50, 0.15, 0.25, 0.1)  # the loss is no MSE + penalty
    wider = penalty_run(0, 0.001, 10.0, 0.02, 0.05, 0.60, 0.9)  # a larger gap than none's
    assert verdicts(advanced.regularization([none, grown, l1])) == [False, True, True, True]
    assert verdicts(advanced.regularization([none, l2, dense])) == [True, False, True, True]
    assert verdicts(advanced.regularization([none, l2, unfair])) == [True, True, False, True]
    assert verdicts(advanced.regularization([none, wider, l1])) == [True, True, True, False]


def trial(score: float | None, spread: float = 1000.0) -> LessonRun:
    metrics = (
        {} if score is None else {"cv_val_rmse_original_mean": score, "cv_val_rmse_original_std": spread}
    )
    return run({"model.width": score}, metrics)


def test_search() -> None:
    assert verdicts(advanced.search([trial(52_000), trial(70_000), trial(60_000)])) == [True]
    assert verdicts(advanced.search([trial(52_000, 5_000), trial(54_000)])) == [
        False
    ]  # within the folds' spread
    failed = advanced.search([trial(52_000), trial(70_000), trial(None)])
    assert verdicts(failed) == [False] and "unscored" in failed[0].evidence
    listing = advanced.search([trial(52_000), trial(70_000), trial(60_000)])[0].evidence
    assert (
        listing.index("52,000") < listing.index("60,000") < listing.index("70,000")
    )  # every score, best first


def test_classifier_lessons() -> None:
    stopped = {"run_status": "early_stopped"}
    good = run({"training.epochs": 100}, {"epochs_run": 30, "validation_accuracy": 0.96}, stopped)
    poor = run({"training.epochs": 100}, {"epochs_run": 30, "validation_accuracy": 0.5}, stopped)
    capped = run({"training.epochs": 100}, {"epochs_run": 100, "validation_accuracy": 0.96})
    assert verdicts(advanced.digits([good])) == [True]
    assert verdicts(advanced.digits([good, poor])) == [False]
    assert verdicts(advanced.digits([capped])) == [False]

    def clf(l2: float, train: float, val: float, loss: float, running: float = 0.5) -> LessonRun:
        # `train_accuracy` is the last epoch's running accuracy, not the final model's
        metrics = {"train_accuracy_final": train, "validation_accuracy": val, "validation_log_loss": loss}
        return run({"model.l2": l2}, metrics | {"train_accuracy": running})

    penalty_helps = [clf(0.0, 1.0, 0.90, 0.6), clf(0.01, 0.95, 0.92, 0.25)]
    assert verdicts(advanced.penalized_classifier(penalty_helps)) == [True, True]
    penalty_costs = [clf(0.0, 0.95, 0.92, 0.25), clf(0.01, 1.0, 0.90, 0.6)]
    assert verdicts(advanced.penalized_classifier(penalty_costs)) == [False, False]
    # a narrower gap alone is not the lesson: the penalized net must be less overconfident too
    narrower_only = [clf(0.0, 1.0, 0.90, 0.25), clf(0.01, 0.95, 0.92, 0.6)]
    assert verdicts(advanced.penalized_classifier(narrower_only)) == [True, False]
    # the gap is the final model's: an unpenalized net whose last epoch ran at a lower
    # accuracy (dropout, a late step) still has the wider gap
    running_lower = [clf(0.0, 1.0, 0.90, 0.6, running=0.85), clf(0.01, 0.95, 0.92, 0.25, running=0.99)]
    assert verdicts(advanced.penalized_classifier(running_lower)) == [True, True]


def signal_run(initializer: str, activation: str, ratio: float) -> LessonRun:
    curves = {"diag/hidden_1/act_std": [1.0, 1.0], "diag/hidden_12/act_std": [ratio, 0.5]}
    return LessonRun(
        initializer,
        {"model.initializer": initializer, "model.activation": activation},
        {"model.depth": 12},
        {},
        curves,
    )


@pytest.mark.parametrize(
    ("he", "small", "passed"), [(0.9, 1e-7, True), (0.01, 1e-7, False), (0.9, 0.5, False)]
)
def test_signal_propagation(he: float, small: float, passed: bool) -> None:
    runs = [
        signal_run("he_normal", "relu", he),
        signal_run("glorot_uniform", "tanh", 0.8),
        signal_run("random_normal", "relu", small),
    ]
    assert verdicts(advanced.signal_propagation(runs)) == [passed]


def test_the_report_counts_passes_and_links_pictures() -> None:
    findings = basic.target_scaling(scaling_runs(raw_status="finished"))
    outcome = LessonOutcome(
        "target_scaling", "", findings, 12.0, "abc", ["lessons/target_scaling/learning_curves.png"]
    )
    text = lessons_markdown([outcome], "python -m pipeline.lessons", 12.0)
    assert "0 passed, 1 failed (1 of 2 findings hold)" in text
    assert "| [target_scaling](#target_scaling) | FAIL | 1/2 |" in text
    assert "**FAIL** a raw target diverges: status finished" in text and "Rule: the raw-target run" in text
    assert "(lessons/target_scaling/learning_curves.png)" in text


def test_the_strongest_l2_must_narrow_the_gap() -> None:
    def clf(l2: float, train: float, val: float) -> LessonRun:
        return run({"model.l2": l2}, {"train_accuracy_final": train, "validation_accuracy": val})

    # the measured case: 0.001 narrows the gap, 0.01 widens it
    runs = [clf(0.0, 0.945, 0.925), clf(0.001, 0.934, 0.933), clf(0.01, 0.939, 0.897)]
    assert verdicts(advanced.penalized_classifier(runs))[0] is False
    assert verdicts(advanced.penalized_classifier(runs[:2]))[0] is True
    # the course's setup as measured: the weak penalty ties the gap, the strongest closes it
    course = [clf(0.0, 0.925, 0.894), clf(0.001, 0.930, 0.893), clf(0.01, 0.905, 0.906)]
    assert verdicts(advanced.penalized_classifier(course))[0] is True


def test_rank_correlation() -> None:
    assert basic.rank_correlation([0, 1, 2, 3, 4], [0.54, 0.156, 0.152, 0.132, 0.134]) == pytest.approx(-0.9)
    assert basic.rank_correlation([0, 1, 2], [3.0, 2.0, 1.0]) == -1.0


def test_a_lesson_comparing_variants_over_seeds_shows_the_paired_test_beside_its_rule() -> None:
    def clf(l2: float, seed: int, gap: float) -> LessonRun:
        metrics = {"train_accuracy_final": 1.0, "validation_accuracy": 1 - gap}
        return run({"model.l2": l2, "training.seed": seed}, metrics)

    none = [clf(0.0, s, g) for s, g in ((1, 0.10), (2, 0.09), (3, 0.11))]
    narrower = none + [clf(0.01, s, g) for s, g in ((1, 0.07), (2, 0.065), (3, 0.08))]  # on every seed
    clear, _ = advanced.penalized_classifier(narrower)
    assert clear.passed and clear.paired == (  # differences -0.03, -0.025, -0.03: t = -17 on 2 df
        "gap, L2 0.01 - none: -0.0283 over 3 seeds "
        "(95 % CI -0.0355 to -0.0212, paired t-test p = 0.0034), leads"
    )
    flips = none + [clf(0.01, s, g) for s, g in ((1, 0.05), (2, 0.12), (3, 0.10))]  # smaller on average only
    muddled, _ = advanced.penalized_classifier(flips)
    assert muddled.passed  # the rule (a smaller mean gap) keeps its threshold
    assert "cannot tell with 3 seeds" in muddled.paired and "seeds would" in muddled.paired

    outcome = LessonOutcome("penalized_classifier", "", [muddled], 5.0, None, [])
    text = lessons_markdown([outcome], "python -m pipeline.lessons", 5.0)
    assert "  Seed by seed (paired t-test, beside the rule, not deciding it): gap, L2 0.01 - none: " in text

    init = basic.initializers(init_runs())[1]
    assert init.paired.startswith("validation MSE, he_normal - glorot_uniform: +0.001 over 2 seeds")
    check = basic.capacity("capacity_width", "width")
    widths = check(capacity_runs([0.5, 0.3, 0.1, 0.05], [0.6, 0.4, 0.45, 0.5]))
    assert widths[2].paired.startswith("validation MSE, smallest - best: +0.2 over 2 seeds")
    assert "; validation MSE, biggest - best: +0.1 over 2 seeds" in widths[2].paired
