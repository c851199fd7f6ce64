"""`python -m pipeline.lessons` runs a lesson's preset, checks its finding on the runs it
recorded, writes the report and logs it on one MLflow run; a finding that does not hold
fails the command."""

from __future__ import annotations

from typing import Any


def lessons_run(project: Any) -> Any:
    runs = [r for r in project.runs() if "lessons" in r.data.tags]
    assert len(runs) == 1, [r.info.run_name for r in project.runs()]
    return runs[0]


def test_a_lesson_that_holds_passes_and_is_recorded(project: Any) -> None:
    done = project.run("python", "-m", "pipeline.lessons", "--only", "learning_rates")
    assert "lesson 1/1 learning_rates: PASS (2/2 findings)" in done.stdout
    report = (project.path / "reports" / "lessons.md").read_text()
    assert "1 passed, 0 failed (2 of 2 findings hold)" in report
    assert "**PASS** a learning rate of 1e-06 barely moves the loss: lr 1e-06: training loss" in report
    assert "(lessons/learning_rates/learning_curves.png)" in report
    assert (project.path / "reports" / "lessons" / "learning_rates" / "learning_curves.png").is_file()
    run = lessons_run(project)
    assert run.data.metrics["lesson_passed/learning_rates"] == 1.0
    artifacts = {a.path for a in project.client().list_artifacts(run.info.run_id)}
    assert {"lessons.md", "lessons"} <= artifacts
    swept = [r for r in project.runs() if r.data.params.get("optimizer.learning_rate")]
    assert sorted(float(r.data.params["optimizer.learning_rate"]) for r in swept) == [1e-6, 1e-2, 1.0]


def test_a_finding_that_does_not_hold_fails_the_command(project: Any) -> None:
    # a cap of 5 epochs: patience 10 cannot stop before it
    done = project.run(
        "python", "-m", "pipeline.lessons", "--only", "early_stopping", "--", "training.epochs=5", check=False
    )
    assert done.returncode == 1, done.stderr[-2000:]
    assert "lessons: 0 of 1 passed" in done.stdout and "failed: early_stopping" in done.stdout
    report = (project.path / "reports" / "lessons.md").read_text()
    assert (
        "**FAIL** early stopping stops before the cap" in report
        and "patience 10: stopped at 5 of 5" in report
    )
    assert lessons_run(project).data.metrics["lesson_passed/early_stopping"] == 0.0


def test_an_unknown_lesson_is_one_line_naming_the_valid_ones(project: Any) -> None:
    done = project.run("python", "-m", "pipeline.lessons", "--only", "capacity", check=False)
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith("error: --only capacity: no such lesson; valid: target_scaling,")
    )
