"""How fast, and in how much memory, does the project train on a large CSV?

    python benchmarks/memory.py [--rows 1000000] [--epochs 3] [--json memory.json]

A synthetic CSV of --rows rows (8 features, target `y`) through `dataset=csv`, batch 32,
tracking off; one fresh subprocess per measurement, so each peak RSS (VmHWM) is its own:

  prepare   ingest + normalize + split into the temporary cache (the DVC stages' work)
  project   `run_job`: training, evaluation, saving, pictures; its baseline is its RSS after
            importing what a run imports, so "above the imports" is the run's own memory
  training  training alone, the same baseline: the design matrices and `fit` (what
            `train_and_record` does before it saves), the issue's "training memory"
  course    `Sequential` + `fit` on the same arrays (--no-course skips it: slow at 1M rows)
  baseline  the project on --baseline-rows rows: what any run needs whatever the data
            (TensorFlow's runtime, the traced epoch, the pictures)

A "copy" is the whole prepared table as float64: rows x (inputs + target) x 8 bytes.
Target: the peak above the imports within 2 copies of the data (printed for the whole
run and for training alone).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from common import (
    BENCH,
    Workspace,
    arrays,
    compose,
    course_job,
    environment,
    fmt,
    parser,
    peak_rss_mb,
    quietly,
    ratio,
    report,
    workspace,
)


def worker(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """One measurement in this (fresh) interpreter."""
    started = time.perf_counter()
    import keras  # noqa: F401

    import pipeline.experiments.job  # everything a run imports: memory above this is the run's
    from pipeline.core.files import MANIFEST_FILE, SCHEMA_FILE
    from pipeline.core.io import read_json
    from pipeline.data.cache import ensure_prepared

    out: dict[str, Any] = {"import_s": time.perf_counter() - started, "rss_after_imports_mb": peak_rss_mb()}
    cfg = compose(spec["overrides"])
    started = time.perf_counter()
    if kind == "prepare":
        ensure_prepared(cfg.dataset, cfg.split, cfg.paths)
        out["seconds"] = time.perf_counter() - started
    elif kind == "training":  # the design matrices and fit, as train_and_record makes them
        from pipeline.data.prepared import design_matrix, load_prepared
        from pipeline.model.training import fit

        prepared = load_prepared(ensure_prepared(cfg.dataset, cfg.split, cfg.paths))
        train = design_matrix(prepared, "train", cfg.training)
        validation = design_matrix(prepared, "validation", cfg.training)
        result = fit(cfg.model, cfg.optimizer, cfg.training, train, validation, task=prepared.task)
        out["seconds"] = time.perf_counter() - started
        out |= {"train_rows": len(train[0]), "epochs": result.epochs_run}
    elif kind == "course":  # timed from building the network to the end of fit
        import course

        x, y, xv, yv = arrays(cfg)
        out["seconds"], history = course.fit(course_job(cfg), x, y, xv, yv)
        out |= {"train_rows": len(x), "val_mse": float(history["val_mse"][-1])}
    else:  # the whole run_job
        folder = ensure_prepared(cfg.dataset, cfg.split, cfg.paths)  # made by `prepare`: only checked
        rows, schema = read_json(folder / MANIFEST_FILE)["rows"], read_json(folder / SCHEMA_FILE)
        started = time.perf_counter()
        got = quietly(lambda: pipeline.experiments.job.run_job(cfg, Path(spec["out_dir"])))
        out["seconds"] = time.perf_counter() - started
        out |= {"train_rows": rows["train"], "train_s": got["training_time_s"], "epochs": got["epochs_run"]}
        out |= {"val_mse": got["validation"]["scaled"]["mse"]}
        out["table_mb"] = sum(rows.values()) * (len(schema["encoded_features"]) + 1) * 8 / 2**20
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def measure(ws: Workspace, kind: str, overrides: list[str], label: str) -> dict[str, Any]:
    result = ws.tmp / f"{label}.json"
    spec = json.dumps({"overrides": overrides, "out_dir": str(ws.tmp / "runs" / label)})
    ws.run(
        [sys.executable, str(BENCH / "memory.py"), "--worker", kind, "--spec", spec, "--result", str(result)],
        label,
    )
    return json.loads(result.read_text())


def synthetic_csv(path: Path, rows: int) -> list[str]:
    """Write `rows` rows of 8 normal inputs and a nonlinear target; the dataset overrides."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 8)).astype("float32")
    y = x @ np.linspace(-1.0, 1.0, 8) + np.sin(x[:, 0] * 2) + rng.normal(scale=0.3, size=rows)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(8)]).assign(y=y.astype("float32"))
    frame.to_csv(path, index=False, float_format="%.6g")
    return ["dataset=csv", f"dataset.path={path}", "dataset.target=y"]


def main() -> None:
    p = parser(__doc__, repeats=None)
    p.add_argument("--rows", type=int, default=1_000_000, help="rows of the synthetic CSV (default 1e6)")
    p.add_argument("--baseline-rows", type=int, default=10_000, help="rows of the baseline run (0: none)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--no-course", action="store_true", help="skip the course's fit")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--spec", help=argparse.SUPPRESS)
    p.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        args.result.write_text(json.dumps(worker(args.worker, json.loads(args.spec))))
        return
    results: dict[str, Any] = {"environment": environment(), "rows": args.rows, "epochs": args.epochs}
    results["batch_size"] = args.batch
    with workspace(args) as ws:
        common = [f"training.epochs={args.epochs}", f"training.batch_size={args.batch}", *ws.overrides]
        common.append("tracking.enabled=false")
        sets = {"big": args.rows} | ({"baseline": args.baseline_rows} if args.baseline_rows else {})
        for name, rows in sets.items():
            started = time.perf_counter()
            overrides = [*synthetic_csv(ws.tmp / f"{name}.csv", rows), *common]
            results[f"{name}_csv_s"] = time.perf_counter() - started
            print(f"{name} ({rows} rows): prepare, project ...", flush=True)
            results[f"{name}_prepare"] = measure(ws, "prepare", overrides, f"{name}-prepare")
            results[f"{name}_project"] = measure(ws, "project", overrides, f"{name}-project")
            results[f"{name}_training"] = measure(ws, "training", overrides, f"{name}-training")
            if name == "big" and not args.no_course:
                print("big: course ...", flush=True)
                results["big_course"] = measure(ws, "course", overrides, "big-course")
    big, course = results["big_project"], results.get("big_course")
    row_epochs = big["train_rows"] * args.epochs
    above = big["peak_rss_mb"] - big["rss_after_imports_mb"]
    table = big["table_mb"]
    results["rows_per_s"] = {
        "project_run_job": row_epochs / big["seconds"],
        "project_training": row_epochs / big["train_s"] if big["train_s"] else None,
        "course_fit": row_epochs / course["seconds"] if course else None,
    }
    results["copies"] = {"table_mb": table, "above_imports_mb": above, "above_imports": above / table}
    results["copies"]["peak_rss_over_table"] = big["peak_rss_mb"] / table
    if "baseline_project" in results:
        base = results["baseline_project"]
        fixed = base["peak_rss_mb"] - base["rss_after_imports_mb"]
        results["copies"] |= {"baseline_above_imports_mb": fixed, "less_baseline": (above - fixed) / table}
    results["copies"]["within_2"] = above / table <= 2
    trained = results["big_training"]
    training_above = trained["peak_rss_mb"] - trained["rss_after_imports_mb"]
    results["copies"] |= {"training_above_imports_mb": training_above, "training": training_above / table}
    if "baseline_training" in results:
        base = results["baseline_training"]
        fixed = base["peak_rss_mb"] - base["rss_after_imports_mb"]
        results["copies"]["training_less_baseline"] = (training_above - fixed) / table
    rps, cp = results["rows_per_s"], results["copies"]
    prep = results["big_prepare"]
    lines = [
        f"synthetic CSV, {args.rows} rows x 8 features ({big['train_rows']} training rows), "
        f"{args.epochs} epochs, batch {args.batch}; one subprocess per measurement",
        f"  write CSV {results['big_csv_s']:.1f}s; prepare (ingest+normalize+split) {prep['seconds']:.1f}s, "
        f"peak RSS {prep['peak_rss_mb']:.0f} MB",
        f"  {'':<34} {'seconds':>8} {'rows/s':>10} {'peak RSS MB':>12} {'after imports':>14}",
        f"  {'project run_job (tracking off)':<34} {big['seconds']:8.2f} {rps['project_run_job']:10.0f} "
        f"{big['peak_rss_mb']:12.0f} {big['rss_after_imports_mb']:14.0f}",
        f"  {'  its training part':<34} {fmt(big['train_s']):>8} {fmt(rps['project_training'], '.0f'):>10}",
    ]
    if course:
        lines.append(
            f"  {'course fit':<34} {course['seconds']:8.2f} {rps['course_fit']:10.0f} "
            f"{course['peak_rss_mb']:12.0f} {course['rss_after_imports_mb']:14.0f}"
        )
        lines.append(
            "  ratio project training rows/s / course: "
            f"{fmt(ratio(rps['project_training'], rps['course_fit']))}; "
            f"final val MSE project {big['val_mse']:.4f}, course {course['val_mse']:.4f}"
        )
    lines.append(
        f"  project peak above imports: +{above:.0f} MB = {cp['above_imports']:.2f} copies "
        f"of the {table:.1f} MB float64 table (target <= 2: {'met' if cp['within_2'] else 'NOT met'}); "
        f"whole peak = {cp['peak_rss_over_table']:.1f} x the table"
    )
    if "less_baseline" in cp:
        lines.append(
            f"    less the +{cp['baseline_above_imports_mb']:.0f} MB a {args.baseline_rows}-row run needs: "
            f"{cp['less_baseline']:.2f} copies"
        )
    verdict = "met" if cp["training"] <= 2 else "NOT met"
    lines.append(
        f"  training alone (design matrices + fit, {trained['seconds']:.2f}s): peak above imports "
        f"+{cp['training_above_imports_mb']:.0f} MB = {cp['training']:.2f} copies (target <= 2: {verdict})"
    )
    if "training_less_baseline" in cp:
        less = cp["training_less_baseline"]
        lines.append(f"    less what a {args.baseline_rows}-row training needs: {less:.2f} copies")
    report(results, lines, args.json)


if __name__ == "__main__":
    main()
