"""`reports/lessons.md`: per lesson, each finding with its numbers, PASS or FAIL, its rule,
where it compares variants over seeds their paired t-test (p-value and 95 % interval), and
links to the lesson's pictures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.reports.lesson_checks import Finding


@dataclass(frozen=True)
class LessonOutcome:
    lesson: str
    size: str  # the overrides that set the lesson's size, as run
    findings: list[Finding]
    seconds: float
    sweep_run_id: str | None
    pictures: list[str]  # paths relative to the report
    problem: str | None = None  # the sweep's own failure, if any (its exit, a failed job)

    @property
    def passed(self) -> bool:
        return bool(self.findings) and all(f.passed for f in self.findings)


def verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def lessons_markdown(outcomes: Sequence[LessonOutcome], command: str, seconds: float) -> str:
    """The report: a summary table, then a section per lesson."""
    passed = sum(o.passed for o in outcomes)
    claims = [f for o in outcomes for f in o.findings]
    lines = [
        "# The lessons, reproduced",
        "",
        f"`{command}`: {len(outcomes)} lessons in {seconds / 60:.1f} min; {passed} passed, "
        f"{len(outcomes) - passed} failed ({sum(f.passed for f in claims)} of {len(claims)} findings hold).",
        "",
        "| lesson | verdict | findings | minutes | size |",
        "|---|---|---|---|---|",
    ]
    for o in outcomes:
        held = f"{sum(f.passed for f in o.findings)}/{len(o.findings)}"
        lines.append(
            f"| [{o.lesson}](#{o.lesson}) | {verdict(o.passed)} | {held} "
            f"| {o.seconds / 60:.1f} | `{o.size or 'the preset'}` |"
        )
    for o in outcomes:
        lines += ["", f"## {o.lesson}", ""]
        if o.sweep_run_id:
            lines.append(f"MLflow sweep run `{o.sweep_run_id}`.")
        if o.problem:
            lines.append(f"The sweep reported: {o.problem}")
        lines.append("")
        for f in o.findings:
            lines += [f"- **{verdict(f.passed)}** {f.claim}: {f.evidence}.", f"  Rule: {f.rule}."]
            if f.paired:  # shown beside the rule: two or three seeds cannot carry the test
                lines.append(f"  Seed by seed (paired t-test, beside the rule, not deciding it): {f.paired}.")
        if o.pictures:
            lines += ["", " ".join(f"[{p.rsplit('/', 1)[-1]}]({p})" for p in o.pictures)]
    return "\n".join(lines) + "\n"
