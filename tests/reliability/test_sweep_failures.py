"""A sweep in which jobs fail: the others still run, every failure is reported and recorded.

The sweep crosses a good CSV with a missing one, and a valid initializer with a bogus one:
four jobs, one of which can succeed. A failed job must not stop the sweep; the sweep must
exit non-zero, name each failed job and why, record every job (failed ones included) as a
child run, and list all four in its comparison.
"""

from __future__ import annotations

import sys
from pathlib import Path

# sweep_helpers lives with the integration tests, which share it; pytest puts only this
# test's own folder on sys.path, so a run of tests/reliability alone needs theirs too.
INTEGRATION = str(Path(__file__).resolve().parents[1] / "integration")
if INTEGRATION not in sys.path:
    sys.path.append(INTEGRATION)

from reliability_helpers import store_runs  # noqa: E402
from sweep_helpers import Sweep, assert_parent_report, hydra_value, run_sweep  # noqa: E402


def write_tiny_csv(path: Path, rows: int = 16) -> Path:
    lines = ["x,y"] + [f"{i / rows:.4f},{2.0 * i / rows + 0.1 * (i % 3):.4f}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_failed_jobs_do_not_stop_the_sweep_and_are_all_reported(tmp_path: Path, record_runs) -> None:
    good = write_tiny_csv(tmp_path / "good.csv")
    missing = tmp_path / "no-such-dir" / "missing.csv"
    sweep: Sweep = run_sweep(
        tmp_path / "store",
        "dataset=csv",
        "dataset.target=y",
        f"dataset.path={hydra_value(good)},{hydra_value(missing)}",
        "model.initializer=he_normal,bogus",
        "training.epochs=2",
    )

    # four job runs and the sweep's parent run, counted before any assertion
    record_runs(5, len(store_runs(sweep.uri)))

    # the sweep ran to its end and says what failed
    assert sweep.returncode == 1, sweep.output()
    assert "Traceback" not in sweep.stderr, sweep.output()
    assert "sweep: 3 of 4 job(s) failed" in sweep.stderr, sweep.output()
    failed_lines = [line for line in sweep.stderr.splitlines() if line.startswith("failed job ")]
    assert len(failed_lines) == 3, sweep.output()
    jobs = {line.split()[2]: line for line in failed_lines}
    # job order: (good, he_normal), (good, bogus), (missing, he_normal), (missing, bogus)
    assert set(jobs) == {"1", "2", "3"}, failed_lines
    assert "model.initializer=bogus" in jobs["1"] and "model.initializer" in jobs["1"].split("):", 1)[1]
    assert f"dataset.path={missing}" in jobs["2"] and str(missing) in jobs["2"].split("):", 1)[1], jobs["2"]
    assert "model.initializer=bogus" in jobs["3"], jobs["3"]

    # every job is a child run of the sweep: one FINISHED, three FAILED with their error
    runs = sweep.children()
    assert len(runs) == 4, [(r.info.run_name, r.info.status) for r in runs]
    finished = [r for r in runs if r.info.status == "FINISHED"]
    failed = [r for r in runs if r.info.status == "FAILED"]
    assert len(finished) == 1 and len(failed) == 3, [(r.info.run_name, r.info.status) for r in runs]
    ok = finished[0]
    assert ok.data.params["model.initializer"] == "he_normal", ok.data.params
    assert ok.data.params["dataset.path"] == str(good), ok.data.params
    assert ok.data.tags.get("run_status") == "finished", ok.data.tags
    assert "validation_mse_scaled" in ok.data.metrics, ok.data.metrics

    for run in failed:
        tags = run.data.tags
        assert tags.get("run_status") == "failed", tags
        assert tags.get("error"), f"failed run {run.info.run_name} has no error tag: {tags}"
    bogus = [r for r in failed if r.data.params.get("model.initializer") == "bogus"]
    no_file = [r for r in failed if r.data.params.get("model.initializer") == "he_normal"]
    assert len(bogus) == 2 and len(no_file) == 1, [(r.info.run_name, r.data.params) for r in failed]
    for run in bogus:
        error = run.data.tags["error"]
        assert "model.initializer" in error and "'bogus'" in error, error
        for valid in ("glorot_uniform", "he_normal", "lecun_normal", "zeros"):
            assert valid in error, f"the error does not list the valid initializers: {error}"
    error = no_file[0].data.tags["error"]
    assert str(missing) in error, error
    assert no_file[0].data.params.get("dataset.path") == str(missing), no_file[0].data.params

    # the comparison lists all four jobs, the failed ones with their status and reason
    rows = sweep.comparison_rows()
    assert len(rows) == 4, rows
    seen = {(r["dataset.path"], r["model.initializer"], r["status"]) for r in rows}
    assert seen == {
        (str(good), "he_normal", "finished"),
        (str(good), "bogus", "failed"),
        (str(missing), "he_normal", "failed"),
        (str(missing), "bogus", "failed"),
    }, seen
    for row in rows:
        if row["status"] == "failed":
            assert row["note"], row
    assert rows[0]["status"] == "finished", "the run that trained should rank first"
    assert {r["run_id"] for r in rows} == {r.info.run_id for r in runs}

    # the parent run ends FAILED, with the report logged all the same
    parent = assert_parent_report(sweep, "sweep", status="FAILED")
    assert parent.data.metrics.get("jobs") == 4, parent.data.metrics
    assert parent.data.metrics.get("jobs_failed") == 3, parent.data.metrics
