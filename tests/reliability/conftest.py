"""Reliability suite plumbing: helpers the scenarios share, and the one-line summary.

Every test here is a scenario. At the end pytest prints

    reliability: N scenarios tried, P passed, K known failures, L runs lost (E expected, F found)

where a test that makes MLflow runs reports how many it expected and how many it found in
the store with the `record_runs` fixture (before asserting, so a failing test still counts).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from reliability_helpers import ROOT, Outcome


@dataclass
class Tally:
    """Outcomes of the reliability tests of this session, and the MLflow runs they counted."""

    outcomes: dict[str, str] = field(default_factory=dict)  # nodeid -> passed | failed | skipped | xfailed
    expected_runs: int = 0
    found_runs: int = 0
    lost_runs: int = 0

    def record(self, nodeid: str, outcome: str) -> None:
        if self.outcomes.get(nodeid) in (None, "passed"):  # a failing phase wins over a passing one
            self.outcomes[nodeid] = outcome

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.outcomes.values() if o == outcome)

    def summary(self) -> str:
        tried = len(self.outcomes) - self.count("skipped")
        known = self.count("xfailed")
        return (
            f"reliability: {tried} scenarios tried, {self.count('passed')} passed, "
            f"{known} known failure{'s' * (known != 1)}, {self.lost_runs} runs lost "
            f"({self.expected_runs} expected, {self.found_runs} found)"
        )


TALLY = Tally()  # one per session: pytest imports a conftest once


def _outcome(report: pytest.TestReport) -> str:
    if hasattr(report, "wasxfail"):  # an expected failure: failed as expected, or passed after all
        return "xfailed" if report.skipped else report.outcome
    return report.outcome


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Called for this folder's tests only: a conftest's runtest hooks are scoped to its folder."""
    if report.when == "call" or report.outcome != "passed":
        TALLY.record(report.nodeid, _outcome(report))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if TALLY.outcomes:
        terminalreporter.write_line(TALLY.summary(), bold=True)


@pytest.fixture
def record_runs() -> Callable[[int, int], None]:
    """`record_runs(expected, found)`: MLflow runs a scenario should have made, and found."""

    def record(expected: int, found: int) -> None:
        TALLY.expected_runs += expected
        TALLY.found_runs += min(found, expected)
        TALLY.lost_runs += max(expected - found, 0)

    return record


@pytest.fixture
def run_pipeline(
    tmp_path: Path,
    path_overrides: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> Callable[..., Outcome]:
    """`python -m pipeline.run OVERRIDES` through its Hydra entry point, in-process (a Python
    start with TensorFlow costs ~12 s here); every path in tmp_path, 2 epochs.

    Hydra is told to leave logging alone: its dictConfig closes every existing handler, and
    absl's (installed when TensorFlow is imported, bound to pytest's capture stream at the
    time) closes its stream on close, which kills pytest's output capture. The real command
    with Hydra's logging is run as a subprocess in test_bad_config.py."""
    from pipeline.experiments import run

    def call(*overrides: str) -> Outcome:
        monkeypatch.chdir(ROOT)
        args = [
            "training.epochs=2",
            *path_overrides,
            f"hydra.run.dir={tmp_path / 'job'}",
            "hydra/job_logging=none",
            "hydra/hydra_logging=none",
            *overrides,
        ]
        monkeypatch.setattr(sys, "argv", ["pipeline.run", *args])
        try:
            run.main()
            code = 0
        except SystemExit as stop:
            code = int(stop.code or 0)
        out = capfd.readouterr()
        return Outcome(code, out.out, out.err, "run")

    return call
