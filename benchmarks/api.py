"""How fast is `pipeline.api` in a warm kernel, against the course's Keras code in the same process?

    python benchmarks/api.py [--epochs 100] [--repeats 3] [--small] [--json api.json]

Everything runs in this one process, as in a notebook's kernel (issue 36, "Speed"):

1. `from pipeline import api`, then a first `api.run` of the lab network (Facebook data,
   Dense(8, relu) + Dense(1), SGD lr 0.01, batch 32, --epochs) and a first 12-job
   `api.sweep`: what a notebook user waits for in a fresh kernel (the store's schema and the
   prepared data already exist, made by a child process beforehand, as in a project that
   has run before).
2. Interleaved, medians of --repeats: a recorded `api.run`, the same with
   `tracking.enabled=false` (what its MLflow records cost), and the course's `Sequential` +
   `compile` + `fit` (benchmarks/course.fit) on the same prepared arrays. Target: api.run /
   course fit <= 0.2.
3. Interleaved, medians of --repeats: `api.sweep` of 12 jobs (3 initializers x 4 optimizers)
   against the twelve course fits one after another. Target: course / api.sweep >= 4x, every
   job's run FINISHED with its model and pictures in the store, the parent run with its
   comparison. The sweep's parts come from its MLflow records (run start and end times):
   before the first job (the grid composed, the parent run, the data), the jobs (inside
   their runs; of which training; between runs), after the last job (the late pictures, the
   comparison and its pictures, the parent's records) and returning the `Sweep`.

`--small`: 3 epochs, 2 jobs, one repeat: a smoke test of the script, its figures mean nothing.
The store is a temporary SQLite file; `api.project()` points at a temporary folder whose
`conf/` links to the project's, so outputs/ and mlflow.db stay out of the project.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from common import (
    CONF,
    Workspace,
    environment,
    fmt,
    interleaved,
    median,
    parser,
    ratio,
    report,
    workspace,
)

INITIALIZERS = ("glorot_uniform", "he_normal", "lecun_normal")
OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")
SMALL = {"initializers": ("glorot_uniform",), "optimizers": ("sgd", "adam"), "epochs": 3}
RUN_TARGET = 0.2  # api.run / course fit, at most
SWEEP_TARGET = 4.0  # course fits / api.sweep, at least
VAL_MSE = "validation_mse_scaled"
PARENT_TAG = "mlflow.parentRunId"


@contextlib.contextmanager
def silenced() -> Iterator[None]:
    """The API's and Keras's printing (progress lines, the sweep's table) kept off the report."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def grid(small: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return (SMALL["initializers"], SMALL["optimizers"]) if small else (INITIALIZERS, OPTIMIZERS)


def prepare(ws: Workspace, epochs: int, small: bool) -> None:
    """In a child process (this one stays a fresh kernel): the prepared-data cache, the
    arrays the course trains on (`lab.npz`), the store's schema and experiment, and the
    course's jobs (`jobs.json`: the single run's, then the sweep's) from composed configs."""
    from common import compose, course_job, export_arrays

    export_arrays(compose(ws.lab(epochs)), ws.tmp / "lab.npz")
    ws.create_experiment()
    inits, opts = grid(small)
    sweep = [
        course_job(compose(ws.lab(epochs, f"model.initializer={i}", f"optimizer={o}")))
        for i in inits
        for o in opts
    ]
    single = course_job(compose(ws.lab(epochs)))
    (ws.tmp / "jobs.json").write_text(json.dumps({"single": single, "sweep": sweep}))


def timed(call: Callable[[], Any]) -> tuple[float, float, float, Any]:
    """`call()` silenced: its seconds, its start and end (epoch seconds, as MLflow's times), its value."""
    started, wall = time.perf_counter(), time.time()
    with silenced():
        value = call()
    return time.perf_counter() - started, wall, time.time(), value


def run_times(client: Any, run_id: str | None) -> tuple[float, float] | None:
    """A run's start and end in MLflow's record (epoch seconds)."""
    if run_id is None:
        return None
    info = client.get_run(run_id).info
    return info.start_time / 1000, (info.end_time or info.start_time) / 1000


def one_run(api: Any, client: Any, overrides: list[str]) -> dict[str, Any]:
    """`api.run(*overrides)`: seconds, and its parts from the run's record (before its MLflow
    run started, inside it, after it ended)."""
    seconds, t0, t1, run = timed(lambda: api.run(*overrides))
    out = {
        "seconds": seconds,
        "status": run.status,
        "run_id": run.run_id,
        "val_mse": run.metrics.get(VAL_MSE),
        "train_s": run.metrics.get("training_time_s"),
        "figures": len(run.figures),
    }
    times = run_times(client, run.run_id)
    if times:
        out |= {"before_run_s": times[0] - t0, "in_run_s": times[1] - times[0], "after_run_s": t1 - times[1]}
    return out


def one_sweep(api: Any, client: Any, overrides: list[str], jobs: int) -> dict[str, Any]:
    """`api.sweep(*overrides)`: seconds, its parts from the runs' records, and whether every
    job's run is FINISHED with its model and pictures and the parent with its comparison."""
    from pipeline.core.files import COMPARISON_DIR

    seconds, t0, t1, sweep = timed(lambda: api.sweep(*overrides))
    children = [client.get_run(r.run_id) for r in sweep.runs if r.run_id]
    recorded = 0
    for run, child in zip(sweep.runs, children, strict=False):
        logged = {a.path for a in client.list_artifacts(child.info.run_id, "figures")}
        pictures = {f"figures/{Path(p).name}" for p in run.figures}
        recorded += (
            child.info.status == "FINISHED"
            and run.status == "finished"
            and bool(child.data.tags.get("model_uri"))
            and child.data.tags.get(PARENT_TAG) == sweep.parent_run_id
            and bool(pictures)
            and pictures <= logged
        )
    parent = client.get_run(sweep.parent_run_id) if sweep.parent_run_id else None
    compared = bool(parent and client.list_artifacts(parent.info.run_id, COMPARISON_DIR))
    out: dict[str, Any] = {
        "seconds": seconds,
        "jobs": len(sweep.runs),
        "jobs_recorded": recorded,  # FINISHED, model_uri, every picture logged, under the parent
        "parent_finished": bool(parent and parent.info.status == "FINISHED"),
        "comparison_logged": compared,
        "table_rows": len(sweep.table),
        "comparison_figures": len(sweep.figures),
        "val_mse": [r.metrics.get(VAL_MSE) for r in sweep.runs],
    }
    if parent is None or len(children) != jobs:
        return out
    starts = sorted(c.info.start_time / 1000 for c in children)
    ends = sorted((c.info.end_time or c.info.start_time) / 1000 for c in children)
    in_runs = sum(e - s for s, e in zip(starts, ends, strict=True))  # sorted apart: runs do not overlap
    parent_start, parent_end = run_times(client, sweep.parent_run_id) or (t0, t1)
    return out | {
        "before_jobs_s": starts[0] - t0,  # compose the grid, the parent run, the data
        "before_parent_s": parent_start - t0,
        "jobs_s": ends[-1] - starts[0],  # first job's run start to last job's run end
        "in_job_runs_s": in_runs,
        "training_s": sum(r.metrics.get("training_time_s") or 0.0 for r in sweep.runs),
        "between_jobs_s": ends[-1] - starts[0] - in_runs,
        "after_jobs_s": parent_end - ends[-1],  # late pictures, comparison, the parent's records
        "after_parent_s": t1 - parent_end,  # reading back the Sweep
    }


def course_fits(jobs: list[dict[str, Any]], parts: tuple[Any, ...]) -> dict[str, Any]:
    """The course's fits one after another in this process: the sum of their build + compile
    + fit seconds (the figure compared), and the wall time with Keras's `clear_session`
    between them, which a course notebook need not call."""
    from single_run import course_in_process

    started = time.perf_counter()
    fits = [course_in_process(job, parts) for job in jobs]
    return {
        "seconds": sum(f["seconds"] for f in fits),
        "wall_s": time.perf_counter() - started,
        "val_mse": [f["val_mse"] for f in fits],
    }


def summary(reps: list[dict[str, Any]]) -> dict[str, Any]:
    keys = [k for k, v in reps[0].items() if isinstance(v, float)]
    medians = {f"median_{k}": median([r[k] for r in reps if r.get(k) is not None]) for k in keys}
    return {"runs": reps} | medians


def difference(a: float | None, b: float | None) -> float | None:
    return a - b if a is not None and b is not None else None


def verdict(value: float | None, target: float, at_most: bool) -> str:
    if value is None:
        return "-"
    return "PASS" if (value <= target if at_most else value >= target) else "FAIL"


def measure(ws: Workspace, args: Any, results: dict[str, Any]) -> dict[str, Any]:
    """Every measurement in this process; the raw figures."""
    import numpy as np

    inits, opts = grid(args.small)
    swept = [f"model.initializer={','.join(inits)}", f"optimizer={','.join(opts)}"]
    jobs_file = json.loads((ws.tmp / "jobs.json").read_text())
    data = np.load(ws.tmp / "lab.npz")
    parts = tuple(data[k] for k in ("x", "y", "xv", "yv"))
    results["train_rows"] = int(parts[0].shape[0])
    lab = ws.lab(args.epochs)
    first: dict[str, Any] = {}

    started = time.perf_counter()
    from pipeline import api

    first["import_api_s"] = time.perf_counter() - started
    (ws.tmp / "conf").symlink_to(CONF, target_is_directory=True)
    api.project(ws.tmp)
    from mlflow import MlflowClient

    client = MlflowClient(ws.uri)
    print("first calls, as in a fresh kernel (timed once) ...", flush=True)
    first["run"] = one_run(api, client, lab)
    print(f"  first api.run: {first['run']['seconds']:.2f}s", flush=True)
    from single_run import course_in_process

    first["course_fit"] = course_in_process(jobs_file["single"], parts)
    print(f"  first course fit: {first['course_fit']['seconds']:.2f}s", flush=True)
    first["sweep"] = one_sweep(api, client, [*lab, *swept], len(jobs_file["sweep"]))
    print(f"  first api.sweep: {first['sweep']['seconds']:.2f}s", flush=True)
    with silenced():  # the variant without records: its first call untimed
        api.run(*ws.lab(2, "tracking.enabled=false"))

    print("one run, interleaved ...", flush=True)
    single = interleaved(
        {
            "api_run": lambda: one_run(api, client, lab),
            "api_run_untracked": lambda: one_run(api, client, [*lab, "tracking.enabled=false"]),
            "course_fit": lambda: course_in_process(jobs_file["single"], parts),
        },
        args.repeats,
    )
    print(f"{len(jobs_file['sweep'])}-job sweep, interleaved ...", flush=True)
    sweeps = interleaved(
        {
            "api_sweep": lambda: one_sweep(api, client, [*lab, *swept], len(jobs_file["sweep"])),
            "course_fits": lambda: course_fits(jobs_file["sweep"], parts),
        },
        args.repeats,
    )
    runs = ws.runs()
    results["mlflow_runs"] = len(runs)
    results["mlflow_runs_finished"] = sum(r.info.status == "FINISHED" for r in runs)
    return {"first": first, "single": single, "sweeps": sweeps}


def lines_for(results: dict[str, Any], args: Any) -> list[str]:
    single, sweeps, first = results["single"], results["sweep"], results["first"]
    run, off, fit = (single[k] for k in ("api_run", "api_run_untracked", "course_fit"))
    sw, fits = sweeps["api_sweep"], sweeps["course_fits"]
    run_s, fit_s, sweep_s = run["median_seconds"], fit["median_seconds"], sw["median_seconds"]
    r_run, r_sweep = results["ratios"]["api.run/course fit"], results["ratios"]["course fits/api.sweep"]
    jobs, n = results["jobs"], args.repeats
    recorded = sum(r["jobs_recorded"] for r in sw["runs"])
    parents = sum(r["parent_finished"] and r["comparison_logged"] for r in sw["runs"])
    finished = f"{results['mlflow_runs_finished']}/{results['mlflow_runs']}"
    return [
        f"lab network: Facebook, {results['train_rows']} training rows, Dense(8, relu) + Dense(1), "
        f"SGD lr 0.01, batch 32, {args.epochs} epochs; one process; medians of {n}, interleaved",
        "",
        "| target | api | course, same process | ratio | target | holds |",
        "|---|---|---|---|---|---|",
        f"| recorded api.run / course build + compile + fit | {fmt(run_s)} s | {fmt(fit_s)} s | "
        f"{fmt(r_run)} | <= {RUN_TARGET} | {verdict(r_run, RUN_TARGET, True)} |",
        f"| {jobs}-job api.sweep against {jobs} course fits | {fmt(sweep_s)} s | "
        f"{fmt(fits['median_seconds'])} s | "
        f"{fmt(r_sweep)}x | >= {SWEEP_TARGET:g}x | {verdict(r_sweep, SWEEP_TARGET, False)} |",
        "",
        f"sweep jobs recorded (run FINISHED, its model, every picture, under the parent): "
        f"{recorded}/{jobs * n}; parents FINISHED with their comparison: {parents}/{n}",
        f"MLflow runs in the temporary store: {finished} FINISHED",
        "",
        "api.run, its parts (each its own median; from its MLflow run's start and end):",
        f"  whole call {fmt(run_s)} s: before the run {fmt(run.get('median_before_run_s'))} s "
        f"(compose, validate, open the store), in the run {fmt(run.get('median_in_run_s'))} s "
        f"(training {fmt(run.get('median_train_s'))} s), after it {fmt(run.get('median_after_run_s'))} s",
        f"  with tracking.enabled=false: {fmt(off['median_seconds'])} s (the records: "
        f"{fmt(difference(run_s, off['median_seconds']))} s; "
        f"untracked / course fit {fmt(results['ratios']['untracked api.run/course fit'])})",
        "api.sweep, its parts (each its own median; from the runs' start and end):",
        f"  whole call {fmt(sweep_s)} s: before the first job {fmt(sw.get('median_before_jobs_s'))} s "
        f"(the parent run started at {fmt(sw.get('median_before_parent_s'))} s)",
        f"  {jobs} jobs {fmt(sw.get('median_jobs_s'))} s: inside their runs "
        f"{fmt(sw.get('median_in_job_runs_s'))} s (training {fmt(sw.get('median_training_s'))} s; "
        f"the rest records, evaluation, model), between runs {fmt(sw.get('median_between_jobs_s'))} s",
        f"  after the jobs {fmt(sw.get('median_after_jobs_s'))} s (late pictures, the comparison and "
        f"its pictures, the parent's records), returning the Sweep {fmt(sw.get('median_after_parent_s'))} s",
        f"  the course: {jobs} fits, build + compile + fit {fmt(fits['median_seconds'])} s "
        f"(with clear_session between them {fmt(fits['median_wall_s'])} s)",
        "",
        "as a notebook user sees it (this one process):",
        f"  from pipeline import api  {fmt(first['import_api_s'])} s",
        f"  first api.run             {fmt(first['run']['seconds'])} s (TensorFlow's import, the first "
        f"trace), later {fmt(run_s)} s",
        f"  first api.sweep           {fmt(first['sweep']['seconds'])} s (after a run), "
        f"later {fmt(sweep_s)} s",
        f"  the course's first fit    {fmt(first['course_fit']['seconds'])} s (after the API's), "
        f"later {fmt(fit_s)} s",
    ]


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--epochs", type=int, default=100, help="epochs of every timed run (default 100, the lab)")
    p.add_argument("--small", action="store_true", help="a smoke test: 3 epochs, 2 jobs, one repeat")
    p.add_argument("--prepare-in", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.small:
        args.epochs, args.repeats = SMALL["epochs"], 1
    if args.prepare_in:  # the child process that prepares the workspace
        prepare(Workspace(args.prepare_in), args.epochs, args.small)
        return
    results: dict[str, Any] = {"environment": environment(), "epochs": args.epochs, "repeats": args.repeats}
    with workspace(args) as ws:
        command = [sys.executable, __file__, "--prepare-in", str(ws.tmp), "--epochs", str(args.epochs)]
        ws.run(command + (["--small"] if args.small else []), "prepare")
        raw = measure(ws, args, results)
    inits, opts = grid(args.small)
    results["jobs"] = len(inits) * len(opts)
    results["grid"] = {"model.initializer": list(inits), "optimizer": list(opts)}
    results["first"] = raw["first"]
    results["single"] = {name: summary(reps) for name, reps in raw["single"].items()}
    results["sweep"] = {name: summary(reps) for name, reps in raw["sweeps"].items()}
    s, w = results["single"], results["sweep"]
    results["ratios"] = {
        "api.run/course fit": ratio(s["api_run"]["median_seconds"], s["course_fit"]["median_seconds"]),
        "untracked api.run/course fit": ratio(
            s["api_run_untracked"]["median_seconds"], s["course_fit"]["median_seconds"]
        ),
        "course fits/api.sweep": ratio(w["course_fits"]["median_seconds"], w["api_sweep"]["median_seconds"]),
    }
    results["targets"] = {
        "api.run/course fit": verdict(results["ratios"]["api.run/course fit"], RUN_TARGET, True),
        "course fits/api.sweep": verdict(results["ratios"]["course fits/api.sweep"], SWEEP_TARGET, False),
    }
    report(results, lines_for(results, args), args.json)


if __name__ == "__main__":
    main()
