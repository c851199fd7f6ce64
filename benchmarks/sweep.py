"""How much faster is a 12-job sweep through the project than the same 12 fits course-style?

    python benchmarks/sweep.py [--epochs 100] [--repeats 3] [--launcher joblib] [--json sweep.json]

Project: `python -m pipeline.run -m model.initializer=glorot_uniform,he_normal,lecun_normal
optimizer=sgd,momentum,rmsprop,adam dataset=facebook ...` (3 initializers x 4 optimizers, the
lab network, every job a recorded MLflow run), wall time of the whole command. Course: the
same 12 configurations fitted with `Sequential` + `fit` in one fresh interpreter
(benchmarks/course.py), wall time of that process. Each runs --repeats times, the two
interleaved; the medians are compared. Target: speed-up >= 6x. Every job's run must be
FINISHED in the temporary MLflow store.
"""

from __future__ import annotations

import itertools
import json
import sys
from typing import Any

from common import (
    PARENT_TAG,
    compose,
    course_command,
    course_job,
    environment,
    export_arrays,
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


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--epochs", type=int, default=100, help="epochs per job (default 100, the lab)")
    p.add_argument("--launcher", help="a Hydra launcher for the project's sweep (hydra/launcher=NAME)")
    args = p.parse_args()
    results: dict[str, Any] = {"environment": environment(), "epochs": args.epochs, "repeats": args.repeats}
    results["launcher"] = args.launcher or "basic (Hydra's default, sequential)"
    with workspace(args) as ws:
        base = ws.lab(args.epochs)
        data = ws.tmp / "lab.npz"
        export_arrays(compose(base), data)  # the prepared-data cache exists before either side runs
        ws.create_experiment()  # the store's schema, untimed
        jobs = [
            course_job(compose([*base, f"model.initializer={init}", f"optimizer={opt}"]))
            for init in INITIALIZERS
            for opt in OPTIMIZERS
        ]
        counter = itertools.count()

        def project() -> float:
            index = next(counter)
            command = [sys.executable, "-m", "pipeline.run", "-m"]
            command += [f"model.initializer={','.join(INITIALIZERS)}", f"optimizer={','.join(OPTIMIZERS)}"]
            command += [*base, f"hydra.sweep.dir={ws.tmp / 'hydra' / f'sweep-{index}'}"]
            command += [f"hydra.run.dir={ws.tmp / 'hydra' / 'run'}"]
            if args.launcher:
                command.append(f"hydra/launcher={args.launcher}")
            return ws.run(command, f"project-sweep-{index}")

        def course() -> dict[str, Any]:
            label = f"course-sweep-{next(counter)}"
            wall = ws.run(course_command(ws, data, jobs, label), label)
            return {"seconds": wall} | json.loads((ws.tmp / f"{label}.json").read_text())

        timed = interleaved({"project": project, "course": course}, args.repeats)
        runs = ws.runs()
        children = [r for r in runs if PARENT_TAG in r.data.tags]
    courses = timed["course"]
    results["project_walls_s"] = timed["project"]
    results["project_wall_s"] = median(timed["project"])
    results["course_walls_s"] = [c["seconds"] for c in courses]
    results["course_wall_s"] = median(results["course_walls_s"])
    results["course_fits_s"] = median([c["fits_s"] for c in courses])
    results["course_import_s"] = median([c["import_s"] for c in courses])
    results["course_val_mse"] = [f["val_mse"] for f in courses[-1]["fits"]]
    results["jobs"] = len(jobs)
    results["mlflow_runs"] = len(runs)  # the jobs' runs and a parent run per sweep
    results["job_runs"] = len(children)
    results["job_runs_finished"] = sum(r.info.status == "FINISHED" for r in children)
    results["speed_up"] = ratio(results["course_wall_s"], results["project_wall_s"])
    walls = ", ".join(f"{w:.2f}" for w in timed["project"])
    course_walls = ", ".join(f"{w:.2f}" for w in results["course_walls_s"])
    expected = len(jobs) * args.repeats
    lines = [
        f"sweep: {len(jobs)} jobs ({len(INITIALIZERS)} initializers x {len(OPTIMIZERS)} optimizers), "
        f"{args.epochs} epochs, launcher {results['launcher']}; medians of {args.repeats}, interleaved",
        f"  course-style fits, one fresh interpreter:  {fmt(results['course_wall_s']):>7}s wall "
        f"({course_walls}; fits {fmt(results['course_fits_s'])}s, "
        f"imports {fmt(results['course_import_s'])}s)",
        f"  python -m pipeline.run -m ...:              {fmt(results['project_wall_s']):>7}s wall ({walls})",
        f"  speed-up: {fmt(results['speed_up'])}x (course wall / project wall; target >= 6x)",
        f"  job runs FINISHED: {results['job_runs_finished']}/{expected} expected "
        f"({results['job_runs']} job runs, {results['mlflow_runs']} MLflow runs in all)",
    ]
    report(results, lines, args.json)


if __name__ == "__main__":
    main()
