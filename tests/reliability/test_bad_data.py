"""Bad data through the real entry points: one line naming the file, the column and the line,
exit status 2, no traceback, no half-written stage output, and no run recorded FINISHED.

The stages run as users run them: each stage's `main` under `run_cli` reading a composed
`params.yaml` in a scratch folder (in-process: the same code path, without a Python start
per scenario), `python -m pipeline.stages.ingest` / `pipeline.stages.normalize` as subprocesses, and
`python -m pipeline.run`'s Hydra entry point.
"""

from __future__ import annotations

import importlib
import json
import math
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from reliability_helpers import ROOT, Outcome, error_line, leftovers, store_runs, subprocess_env

from pipeline.core.errors import run_cli
from pipeline.experiments.compose import compose_params

STAGES = ("ingest", "normalize", "split")
PARTS = ("train", "validation", "test")
SPLIT_FILES = ("scaler.json", "schema.json", "manifest.json")
OUTPUTS = {  # each stage's folder under tmp_path (conf/paths/default.yaml), and what it holds
    "ingest": ("data/raw", {"data.csv", "provenance.json"}),
    "normalize": ("data/interim", {"normalized.parquet", "schema.json", "provenance.json"}),
    "split": ("data/processed", {*(f"{p}.parquet" for p in PARTS), *SPLIT_FILES}),
}
GOOD = [f"{i},{i * 0.5 + 1:g},{2 * i + 1}" for i in range(10)]  # x1,x2,y: 10 rows, 6/2/2 split


def labelled(classes: str) -> list[str]:
    """GOOD's inputs with the class labels `classes` (one character per row) as the target."""
    return [f"{i},{i * 0.5 + 1:g},{label}" for i, label in enumerate(classes)]


def table(*lines: str, sep: str = ",") -> str:
    return "\n".join(line.replace(",", sep) for line in lines) + "\n"


@dataclass(frozen=True)
class Bad:
    """A bad file (or setting): the stage that must refuse it and what its one line must say."""

    text: str | bytes
    stage: str
    says: tuple[str, ...]
    overrides: tuple[str, ...] = ()


SCENARIOS = {
    "wrong_separator": Bad(
        table("x1,x2,y", *GOOD, sep=";"),
        "ingest",
        ("the whole header landed in one column with separator ','", "set 'dataset.separator=\";\"'"),
    ),
    "wrong_separator_and_a_decimal_comma": Bad(
        "rooms;area;y\n3;70.5;210000\n4;1,5;250000\n" + table(*GOOD, sep=";"),
        "ingest",
        ("set 'dataset.separator=\";\"'",),
    ),
    "missing_target": Bad(
        table("x1,x2,price", *GOOD),
        "normalize",
        ("missing column(s) ['y']", "the file has ['x1', 'x2', 'price']"),
    ),
    "missing_feature": Bad(
        table("x1,x2,y", *GOOD),
        "normalize",
        ("missing column(s) ['x3']", "the file has ['x1', 'x2', 'y']"),
        ("dataset.features=[x1,x3]",),
    ),
    "repeated_header": Bad(
        table("x1,x2,x1,y", *[f"{r},{r[0]}" for r in GOOD]),
        "ingest",
        ("the header repeats column names ['x1']",),
    ),
    "non_numeric_in_two_columns": Bad(
        "x1;x2;y\n1;0.5;3\nn/a;0.7;5\n3;1,5;7\n" + table(*GOOD, sep=";"),
        "normalize",
        ("'x1' has non-numeric values ['n/a'] (line 3)", "'x2' has non-numeric values ['1,5'] (line 4)"),
        ("dataset.separator=';'",),
    ),
    "infinite_values": Bad(
        table("x1,x2,y", *GOOD, "4,inf,9", "5,-inf,11"), "normalize", ("'x2' has infinite values (line 12)",)
    ),
    "blank_cells_kept": Bad(
        table("x1,x2,y", *GOOD[:2], "2,,5", *GOOD[3:]),
        "normalize",
        ("1 row(s) have blank cells in ['x2'] (first at line 4)", "set dataset.drop_blank_rows=true"),
        ("dataset.drop_blank_rows=false",),
    ),
    "empty_file": Bad("", "ingest", ("the file is empty",)),
    "header_only": Bad("x1,x2,y\n", "ingest", ("the file has a header but no data rows",)),
    # classification targets (dataset.task): one line naming the column and the classes found
    "single_class": Bad(
        table("x1,x2,y", *labelled("a" * 10)),
        "normalize",
        ("dataset.target 'y' has a single class ['a']", "a classifier needs at least 2 classes"),
        ("dataset.task=binary",),
    ),
    "binary_given_three_classes": Bad(
        table("x1,x2,y", *labelled("abcabcabca")),
        "normalize",
        (
            "dataset.task=binary but dataset.target 'y' has 3 classes ['a', 'b', 'c']",
            "set dataset.task=multiclass",
        ),
        ("dataset.task=binary",),
    ),
    "fractional_labels": Bad(
        table("x1,x2,y", *[f"{i},{i * 0.5 + 1:g},{i % 3 + 0.5 * (i == 4)}" for i in range(10)]),
        "normalize",
        ("dataset.target 'y' holds numbers that are not whole ([1.5])", "set dataset.task=regression"),
        ("dataset.task=multiclass",),
    ),
    "text_target_under_regression": Bad(
        table("x1,x2,y", *labelled("abcabcabca")),
        "normalize",
        ("dataset.target 'y' holds text (['a', 'b', 'c'], line 2)", "set dataset.task=auto"),
        ("dataset.task=regression",),
    ),
    # a file of the user's that is not what the config says
    "undeclared_text_column": Bad(
        table("x1,city,y", *[f"{i},{'Berlin' if i % 2 else 'Rome'},{2 * i + 1}" for i in range(10)]),
        "normalize",
        (
            "'city' holds text ['Berlin', 'Rome'] (line 2), not numbers",
            "'dataset.categorical=[city]'",
            "'dataset.features=[x1]'",
        ),
    ),
    "spreadsheet": Bad(
        b"PK\x03\x04" + bytes(60), "ingest", ("not a text CSV file: it seems to be a zip archive",)
    ),
    "old_spreadsheet": Bad(
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504),
        "ingest",
        ("it seems to be an old Excel .xls workbook",),
    ),
    "target_blank_in_every_row": Bad(
        table("x1,x2,y", *[row.rsplit(",", 1)[0] + "," for row in GOOD]),
        "normalize",
        ("dataset.target 'y' is blank in every row (lines 2-11)",),
    ),
    "class_too_small_to_stratify": Bad(
        table("x1,x2,y", *labelled("aaaaaaaabb")),
        "split",
        ("class(es) {'b': 2} of 'y' have too few rows to stratify", "classes found {'a': 8, 'b': 2}"),
        ("dataset.task=binary",),
    ),
    "too_few_rows_for_the_split": Bad(
        table("x1,x2,y", *GOOD[:3]),
        "split",
        ("3 rows are too few for split.validation=0.2 and split.test=0.2",),
    ),
}


@pytest.fixture
def data_file(tmp_path: Path):
    def write(text: str | bytes, name: str = "houses.csv") -> Path:
        path = tmp_path / "user" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        return path.resolve()

    return write


@pytest.fixture
def workdir(tmp_path: Path, path_overrides: list[str]):
    """A scratch folder holding a params.yaml composed from conf/ with `overrides`."""

    def compose(csv: Path, *overrides: str) -> Path:
        work = tmp_path / "work"
        work.mkdir(exist_ok=True)
        dataset = ["dataset=csv", f"dataset.path={csv}", "dataset.target=y"]
        compose_params(work / "params.yaml", [*dataset, *path_overrides, *overrides], ROOT / "conf")
        return work

    return compose


@pytest.fixture
def run_stages(workdir, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]):
    """Run ingest, normalize, split as `python -m pipeline.stages.<stage>` does (main under run_cli),
    stopping at the first that fails."""

    def run(csv: Path, *overrides: str) -> Outcome:
        monkeypatch.chdir(workdir(csv, *overrides))
        code, stage = 0, STAGES[0]
        for stage in STAGES:
            try:
                run_cli(importlib.import_module(f"pipeline.stages.{stage}").main)
            except SystemExit as stop:
                code = int(stop.code or 0)
            if code:
                break
        out = capfd.readouterr()
        return Outcome(code, out.out, out.err, stage)

    return run


def output_dir(tmp_path: Path, stage: str) -> Path:
    return tmp_path / OUTPUTS[stage][0]


def assert_stopped_at(tmp_path: Path, stage: str) -> None:
    """Stages before `stage` left complete outputs; `stage` and later left nothing, not even temp files."""
    done = STAGES.index(stage)
    for earlier in STAGES[:done]:
        folder = output_dir(tmp_path, earlier)
        assert {p.name for p in folder.iterdir()} == OUTPUTS[earlier][1], earlier
    for later in STAGES[done:]:
        assert not output_dir(tmp_path, later).exists(), later
    assert leftovers(tmp_path / "data") == []


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_bad_data_stops_its_stage_with_one_line(name: str, data_file, run_stages, tmp_path: Path) -> None:
    bad = SCENARIOS[name]
    csv = data_file(bad.text)
    outcome = run_stages(csv, *bad.overrides)
    assert (outcome.code, outcome.stage) == (2, bad.stage), outcome
    line = error_line(outcome.stderr)
    copies = ("data.csv", "normalized.parquet")  # the raw and the interim copy of the user's file
    assert str(csv) in line and not any(copy in line for copy in copies), line
    for fragment in bad.says:
        assert fragment in line, line
    assert_stopped_at(tmp_path, bad.stage)


def test_a_file_too_large_for_memory_is_refused_before_it_is_copied(
    data_file, run_stages, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.data import tabular

    csv = data_file(table("x1,x2,y", *GOOD * 100))
    monkeypatch.setattr(tabular, "available_memory", lambda: 4096)  # bytes
    outcome = run_stages(csv)
    assert (outcome.code, outcome.stage) == (2, "ingest"), outcome
    line = error_line(outcome.stderr)
    assert str(csv) in line and "of memory to load, but 4.0 KiB is available" in line, line
    assert_stopped_at(tmp_path, "ingest")


@pytest.mark.parametrize(("name", "commands"), [("wrong_separator", 1), ("non_numeric_in_two_columns", 2)])
def test_stage_commands_exit_2_with_one_line(name: str, commands: int, data_file, workdir, tmp_path) -> None:
    bad = SCENARIOS[name]
    csv = data_file(bad.text)
    work = workdir(csv, *bad.overrides)
    for stage in STAGES[:commands]:
        done = subprocess.run(
            [sys.executable, "-m", f"pipeline.stages.{stage}"],
            cwd=work,
            env=subprocess_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr  # the one line, nothing else
    line = error_line(done.stderr)
    assert str(csv) in line and all(fragment in line for fragment in bad.says), line
    assert_stopped_at(tmp_path, bad.stage)


@pytest.mark.parametrize(
    "name",
    ["non_numeric_in_two_columns", "missing_target", "binary_given_three_classes", "undeclared_text_column"],
)
def test_a_run_on_bad_data_fails_with_one_line_and_no_finished_run(
    name: str, data_file, run_pipeline, tmp_path: Path, isolated_tracking: str
) -> None:
    bad = SCENARIOS[name]
    csv = data_file(bad.text)
    outcome = run_pipeline("dataset=csv", f"dataset.path={csv}", "dataset.target=y", *bad.overrides)
    assert outcome.code == 2, outcome
    line = error_line(outcome.stderr)
    assert str(csv) in line and all(fragment in line for fragment in bad.says), line
    assert ".prepare." not in line and "data.csv" not in line, line  # never the temporary copy
    # found before the run opens (and before TensorFlow's import): nothing is recorded
    assert store_runs(isolated_tracking) == []
    assert json.loads((tmp_path / "job" / "job.json").read_text())["status"] == "failed"
    prepared = tmp_path / "data" / "prepared"
    assert not prepared.exists() or list(prepared.iterdir()) == []  # nothing half-prepared
    assert not (tmp_path / "job" / "model").exists()


def finite_json(value: object) -> bool:
    if isinstance(value, dict):
        return all(finite_json(v) for v in value.values())
    if isinstance(value, list):
        return all(finite_json(v) for v in value)
    return not isinstance(value, float) or math.isfinite(value)


@pytest.mark.parametrize(
    ("policy", "said", "inputs"),
    [
        ("keep", "warning: ", ["x1", "c", "x2"]),
        ("drop", "note: ", ["x1", "x2"]),
    ],
)
def test_a_constant_column_is_kept_unscaled_or_dropped_as_configured(
    policy, said, inputs, data_file, run_stages, make_config, tmp_path, isolated_tracking, record_runs
) -> None:
    from pipeline.experiments.job import run_job

    csv = data_file(table("x1,c,x2,y", *[row.replace(",", ",7,", 1) for row in GOOD]))
    setting = f"dataset.constant_columns={policy}"
    outcome = run_stages(csv, setting)
    assert outcome.code == 0, outcome
    notices = [line for line in outcome.stderr.splitlines() if line.startswith(said) and "constant" in line]
    assert len(notices) == 1 and "constant column(s) ['c']" in notices[0] and str(csv) in notices[0], outcome
    processed = output_dir(tmp_path, "split")
    scaler = json.loads((processed / "scaler.json").read_text())
    assert scaler["features"]["names"] == inputs
    assert finite_json(scaler)
    for part in PARTS:
        frame = pd.read_parquet(processed / f"{part}.parquet")
        assert list(frame.columns) == [*inputs, "y"] and not frame.isna().any(axis=None)

    # a run on it trains on the same prepared data and records finite metrics, FINISHED
    dataset = ("dataset=csv", f"dataset.path={csv}", "dataset.target=y", setting)
    report = run_job(make_config(*dataset, "training.epochs=2"), tmp_path / "job")
    runs = store_runs(isolated_tracking)
    record_runs(1, len(runs))
    assert [r.info.status for r in runs] == ["FINISHED"]
    assert finite_json(report["test"]) and finite_json(
        json.loads((tmp_path / "job" / "metrics.json").read_text())
    )
    predictions = pd.read_csv(tmp_path / "job" / "predictions.csv")
    assert not predictions.isna().any(axis=None)


def test_dropped_blank_rows_are_counted_and_auto_says_what_it_chose(data_file, run_stages) -> None:
    csv = data_file(table("x1,x2,y", *GOOD[:2], "2,,5", *GOOD[3:], "10,6,"))
    outcome = run_stages(csv)
    assert outcome.code == 0, outcome
    lines = outcome.stderr.splitlines()
    assert (
        "normalize: dropped 2 of 11 rows with a blank cell (columns x2, y); "
        "dataset.drop_blank_rows=false refuses them instead"
    ) in lines, outcome
    assert any(line.startswith("note: dataset.task=auto chose regression for 'y'") for line in lines), outcome
