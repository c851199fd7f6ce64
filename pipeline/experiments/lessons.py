"""`python -m pipeline.lessons` (`make lessons`): run every lesson's preset at its stated
size, check each lesson's finding on the recorded runs, write `reports/lessons.md` and log
it on one MLflow run.

    python -m pipeline.lessons                          # every lesson
    python -m pipeline.lessons --only target_scaling,learning_rates
    python -m pipeline.lessons -- tracking.uri=http://127.0.0.1:5000   # overrides for every sweep

Each lesson is one `python -m pipeline.run -m +experiment=NAME` sweep (its own MLflow parent
run and comparison); the checks read its children back from MLflow
(pipeline.reports.lesson_checks). Exits 1 when a lesson fails.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pipeline.core.config import PathsConfig, TrackingConfig
from pipeline.core.errors import PipelineError
from pipeline.core.files import COMPARISON_DIR
from pipeline.experiments.compose import compose_config
from pipeline.reports import lesson_checks as basic
from pipeline.reports import lesson_checks_advanced as advanced
from pipeline.reports.lesson_checks import Check, LessonRun
from pipeline.reports.lesson_report import LessonOutcome, lessons_markdown
from pipeline.tracking.queries import find_runs, metric_history, sweep_children
from pipeline.tracking.recorder import tracked_run

SIGNAL_CURVES = ("diag/hidden_1/act_std", "diag/hidden_12/act_std")


@dataclass(frozen=True)
class Lesson:
    name: str  # the preset, conf/experiment/NAME.yaml
    size: tuple[str, ...]  # overrides that set the size run here (fewer seeds, epochs)
    check: Check
    curves: tuple[str, ...] = ()  # per-epoch metrics the check reads
    data_file: str | None = None  # a file of the shared data folder, as dataset.path


LESSONS = (
    Lesson("target_scaling", (), basic.target_scaling, ("train_loss",)),
    Lesson("initializers", ("training.seed=1,2,3",), basic.initializers),
    Lesson("learning_rates", (), basic.learning_rates, ("train_loss",)),
    Lesson("early_stopping", (), basic.early_stopping, ("val_loss",)),
    Lesson("capacity_width", (), basic.capacity("capacity_width", "width")),
    Lesson("capacity_depth", (), basic.capacity("capacity_depth", "depth")),
    Lesson(
        "regularization",
        ("+penalty=none,l2_0.001,l1_0.001", "training.seed=1,2"),
        advanced.regularization,
        ("train_loss",),
    ),
    Lesson("random_search", (), advanced.search, data_file="housing.csv"),
    Lesson("digits_mlp", (), advanced.digits),
    Lesson("penalized_classifier", ("training.seed=1,2",), advanced.penalized_classifier),
    Lesson("signal_propagation", ("training.epochs=1",), advanced.signal_propagation, SIGNAL_CURVES),
)


def lesson_runs(
    tracking: TrackingConfig, paths: PathsConfig, parent_id: str, curves: tuple[str, ...]
) -> list[LessonRun]:
    """The sweep's children as the checks read them, with the curves they ask for."""
    runs = []
    for child in sweep_children(tracking, paths, parent_id):
        series = {key: [v for _, v in metric_history(tracking, paths, child.run_id, key)] for key in curves}
        runs.append(LessonRun(child.name, child.params, child.metrics, child.tags, series))
    return runs


def run_lesson(
    lesson: Lesson,
    overrides: list[str],
    sweep_dir: Path,
    tracking: TrackingConfig,
    paths: PathsConfig,
    pictures: Path,
) -> LessonOutcome:
    """Run one lesson's sweep (its output in `sweep_dir`/sweep.log), check it, copy its
    comparison pictures into `pictures`."""
    command = [
        sys.executable,
        "-m",
        "pipeline.run",
        "-m",
        f"+experiment={lesson.name}",
        *lesson.size,
        *overrides,
    ]
    command.append(f"hydra.sweep.dir={sweep_dir}")
    sweep_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(sweep_dir / "sweep.log", "w", encoding="utf-8") as log:
        code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False).returncode
    seconds = time.perf_counter() - started
    problem = None if code == 0 else f"exit {code} (see {sweep_dir / 'sweep.log'})"
    parents = find_runs(tracking, paths, f"tags.sweep_dir = '{sweep_dir.resolve()}'")
    if not parents:
        return LessonOutcome(
            lesson.name, " ".join(lesson.size), [], seconds, None, [], problem or "no sweep run recorded"
        )
    parent = parents[-1]
    findings = lesson.check(lesson_runs(tracking, paths, parent.run_id, lesson.curves))
    pictures.mkdir(parents=True, exist_ok=True)
    copied = []
    for picture in sorted((sweep_dir / COMPARISON_DIR).glob("*.png")):
        shutil.copy2(picture, pictures / picture.name)
        copied.append(f"{pictures.parent.name}/{pictures.name}/{picture.name}")
    return LessonOutcome(
        lesson.name, " ".join(lesson.size), findings, seconds, parent.run_id, copied, problem
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = [lesson.name for lesson in LESSONS]
    parser.add_argument(
        "--only",
        type=lambda s: [n.strip() for n in s.split(",") if n.strip()],
        default=names,
        help=f"comma-separated lessons (default all: {','.join(names)})",
    )
    parser.add_argument(
        "--report",
        type=Path,
        default=Path("reports/lessons.md"),
        help="the report (default reports/lessons.md)",
    )
    parser.add_argument(
        "--runs",
        type=Path,
        default=Path("multirun/lessons"),
        help="the sweeps' folders (default multirun/lessons)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path("../shared/data"),
        help="where housing.csv is (default ../shared/data)",
    )
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every sweep (after --)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.only if n not in names]
    if unknown:
        raise PipelineError(f"--only {unknown[0]}: no such lesson; valid: {','.join(names)}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # where runs are recorded; the other overrides are each preset's business
    cfg = compose_config([o for o in args.overrides if o.lstrip("+~").startswith(("tracking.", "paths."))])
    if not cfg.tracking.enabled:
        raise PipelineError(
            "tracking.enabled is false; the lessons read their runs back from MLflow: drop that override"
        )
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    pictures_root = args.report.with_suffix("")
    shutil.rmtree(pictures_root, ignore_errors=True)
    chosen = [lesson for lesson in LESSONS if lesson.name in args.only]
    outcomes, started = [], time.perf_counter()
    with tracked_run(
        cfg.tracking, cfg.paths, run_name=f"lessons-{stamp}", tags={"lessons": ",".join(args.only)}
    ) as recorder:
        for number, lesson in enumerate(chosen, 1):
            overrides = list(args.overrides)
            if lesson.data_file:
                overrides.append(f"dataset.path={(args.data_dir / lesson.data_file).resolve()}")
            print(
                f"lesson {number}/{len(chosen)} {lesson.name}: running "
                f"{' '.join(lesson.size) or 'the preset'}",
                flush=True,
            )
            outcome = run_lesson(
                lesson,
                overrides,
                args.runs / stamp / lesson.name,
                cfg.tracking,
                cfg.paths,
                pictures_root / lesson.name,
            )
            outcomes.append(outcome)
            held = sum(f.passed for f in outcome.findings)
            print(
                f"lesson {number}/{len(chosen)} {lesson.name}: {'PASS' if outcome.passed else 'FAIL'} "
                f"({held}/{len(outcome.findings)} findings) in {outcome.seconds:.0f} s",
                flush=True,
            )
        command = "python -m pipeline.lessons " + shlex.join(sys.argv[1:] if argv is None else argv)
        text = lessons_markdown(outcomes, command.strip(), time.perf_counter() - started)
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text, encoding="utf-8")
        if recorder is not None:
            recorder.log_metrics(
                {f"lesson_passed/{o.lesson}": float(o.passed) for o in outcomes}
                | {"lessons_passed": float(sum(o.passed for o in outcomes))}
            )
            recorder.log_artifact(args.report)
            if pictures_root.is_dir():
                recorder.log_artifacts(pictures_root, pictures_root.name)
    failed = [o.lesson for o in outcomes if not o.passed]
    print(
        f"lessons: {len(outcomes) - len(failed)} of {len(outcomes)} passed; report {args.report}"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    if failed:
        raise SystemExit(1)
