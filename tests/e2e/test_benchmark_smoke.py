"""The benchmarks keep working (benchmarks/README.md, docs/benchmarks.md): each script at a
tiny size on the real data. Asserts what each produced, never a time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def bench(tmp_path: Path, script: str, *args: str, timeout: int = 900) -> tuple[dict[str, Any], str]:
    """Run benchmarks/<script>.py with --json; its figures and its printed report."""
    result = tmp_path / f"{script}.json"
    command = [sys.executable, f"benchmarks/{script}.py", *args, "--json", str(result)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(result.read_text()), done.stdout


def positive(values: list[float]) -> bool:
    return bool(values) and all(v > 0 for v in values)


def test_single_run(tmp_path: Path) -> None:
    out, printed = bench(tmp_path, "single_run", "--epochs", "3", "--repeats", "1")
    for name in ("project", "course"):
        assert positive([r["seconds"] for r in out["processes"][name]["runs"]]), name
    assert out["processes"]["project"]["runs"][0]["status"] == "finished"
    assert set(out["in_process"]) == {"recorded", "recorded_async", "tracking_off", "course_fit"}
    rows = [row["runs"][0] for row in out["in_process"].values()]
    assert positive([r["seconds"] for r in rows])
    project = [out["in_process"][name]["runs"][0] for name in ("recorded", "recorded_async", "tracking_off")]
    assert all(r["status"] == "finished" for r in project)
    assert len({r["val_mse"] for r in project}) == 1  # the same network, trained the same way
    assert out["in_process"]["course_fit"]["runs"][0]["val_mse"] > 0
    # warm-up and timed runs: 2 of the process, 2 each of recorded and recorded_async (off records none)
    assert out["mlflow_runs"] == 6 and out["mlflow_runs_finished"] == 6, out
    assert all(v is not None for v in out["ratios"].values())
    assert "ratio project/course" in printed


def test_fast_paths(tmp_path: Path) -> None:
    out, printed = bench(tmp_path, "fast_paths", "--epochs", "3", "--repeats", "1")
    assert set(out["variants"]) == {"fit", "fit_spe_jit", "fit_autolog", "fused"}
    for row in out["variants"].values():
        assert positive(row["seconds"]) and positive(row["val_mse"])
    assert set(out["ratios_to_fit"]) == set(out["variants"]) and out["ratios_to_fit"]["fit"] == 1
    assert out["autolog_runs_finished"] == 2  # the warm-up's and the timed one's
    assert out["fused_vs_fit"]["close"], out["fused_vs_fit"]
    assert "fused loop's final val MSE" in printed


def test_sweep(tmp_path: Path) -> None:
    out, printed = bench(tmp_path, "sweep", "--epochs", "2", "--repeats", "1")
    assert out["jobs"] == 12 and out["job_runs"] == 12 and out["job_runs_finished"] == 12, out
    assert out["mlflow_runs"] == 13  # and the sweep's parent run
    assert positive(out["project_walls_s"]) and positive(out["course_walls_s"])
    assert len(out["course_val_mse"]) == 12 and out["speed_up"] > 0
    assert "speed-up: " in printed


def test_dvc_repro(tmp_path: Path) -> None:
    out, printed = bench(tmp_path, "dvc_repro", "--repeats", "1")
    assert list(out["stages_s"]) == ["ingest", "normalize", "split", "train", "evaluate"]
    assert positive(list(out["stages_s"].values())) and out["forced_s"] > 0
    assert positive(out["noop_s"]) and "up to date" in out["noop_output"]
    assert out["mlflow_runs_finished"] == 1
    assert "dvc repro, nothing changed" in printed


def test_memory(tmp_path: Path) -> None:
    out, printed = bench(tmp_path, "memory", "--rows", "3000", "--baseline-rows", "500", "--epochs", "1")
    for key in ("big_prepare", "big_project", "big_training", "big_course", "baseline_project"):
        assert out[key]["peak_rss_mb"] >= out[key]["rss_after_imports_mb"] > 0, key
    assert out["big_project"]["train_rows"] == 1800 and out["big_project"]["epochs"] == 1
    assert out["big_training"]["train_rows"] == 1800 and out["big_training"]["epochs"] == 1
    assert positive([v for v in out["rows_per_s"].values()])
    expected = {"above_imports", "less_baseline", "peak_rss_over_table", "within_2", "training"}
    assert expected | {"training_less_baseline"} <= set(out["copies"])
    assert out["copies"]["table_mb"] > 0
    assert "copies" in printed and "training alone" in printed


def test_pictures_and_diagnostics_cost(tmp_path: Path) -> None:
    out, _ = bench(tmp_path, "pictures_cost", "--repeats", "1")
    assert positive(list(out["mean_s"].values())) and set(out["mean_s"]) == {"project", "tight_layout"}
    out, _ = bench(tmp_path, "diagnostics_cost", "--repeats", "1", "--networks", "[8]", "--epochs", "3")
    row = out["networks"]["[8]"]
    assert row["params"] == 113 and row["off_s"] > 0 and row["on_s"] > 0
    out, printed = bench(tmp_path, "progress_cost", "--repeats", "1", "--epochs", "3")
    assert positive(list(out["median_s"].values())) and len(out["median_s"]) == 3
    assert "terminal" in printed and "cost" in printed


def test_search_changes(tmp_path: Path) -> None:
    figures, report = bench(tmp_path, "search_changes", "--seeds", "1", "--trials", "1", "--epochs", "1")
    assert list(figures) == [
        "random_search",
        "+ adam, elu, he_normal",
        "+ log(1 + x) of the counts",
        "+ cluster similarity",
        "tuned_search (+ TPE)",
    ]
    for variant in figures.values():  # a best CV RMSE in dollars, for the one seed
        assert 30_000 < variant["best_by_seed"]["1"] < 200_000 and variant["std"] == 0.0, variant
    assert "tuned_search (+ TPE): mean best" in report and "against random_search" in report


def test_api(tmp_path: Path) -> None:
    out, printed = bench(tmp_path, "api", "--small")
    assert out["jobs"] == 2 and out["epochs"] == 3
    single = {name: row["runs"][0] for name, row in out["single"].items()}
    assert set(single) == {"api_run", "api_run_untracked", "course_fit"}
    assert positive([r["seconds"] for r in single.values()])
    recorded = [out["first"]["run"], single["api_run"]]
    assert all(r["status"] == "finished" and r["run_id"] and r["figures"] for r in recorded), recorded
    assert single["api_run_untracked"]["run_id"] is None
    same = {r["val_mse"] for r in [*recorded, single["api_run_untracked"]]}
    assert len(same) == 1, same  # the same network, trained the same way
    for sweep in (out["first"]["sweep"], out["sweep"]["api_sweep"]["runs"][0]):
        assert sweep["jobs"] == 2 and sweep["jobs_recorded"] == 2, sweep  # run, model, pictures
        assert sweep["parent_finished"] and sweep["comparison_logged"] and sweep["table_rows"] == 2
        assert sweep["jobs_s"] > 0 and sweep["in_job_runs_s"] > 0
    assert len(out["sweep"]["course_fits"]["runs"][0]["val_mse"]) == 2
    # two recorded runs, two sweeps of a parent and two jobs; the untracked runs record none
    assert out["mlflow_runs"] == 8 and out["mlflow_runs_finished"] == 8, out
    assert all(v is not None for v in out["ratios"].values())
    assert set(out["targets"].values()) <= {"PASS", "FAIL"}
    assert "| recorded api.run / course build + compile + fit |" in printed
    assert "first api.run" in printed
