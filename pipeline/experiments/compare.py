"""Compare the runs of a sweep, a preset or an experiment: a table, CSV, Markdown and plots.

python -m pipeline.compare                       # the latest sweep
python -m pipeline.compare --preset optimizers   # the latest sweep of a preset
python -m pipeline.compare --sweep RUN_ID        # one sweep, by its parent run id
python -m pipeline.compare --experiment NAME     # every run of an MLflow experiment
python -m pipeline.compare --columns run,optimizer.name,test_rmse_original,status
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.core.config import load_config
from pipeline.core.errors import PipelineError, run_cli
from pipeline.core.files import COMPARISON_DIR
from pipeline.reports.comparison import DEFAULT_METRIC, compare_runs
from pipeline.tracking.queries import (
    end_dead_runs_of_experiment,
    find_runs,
    latest_sweep,
    resume_run,
    sweep_children,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--sweep", help="a sweep's parent run id")
    source.add_argument("--preset", help="the latest sweep of this preset (tracking.sweep_name)")
    source.add_argument("--experiment", help="every run of this MLflow experiment")
    parser.add_argument("--metric", default=DEFAULT_METRIC, help=f"sort key (default {DEFAULT_METRIC})")
    parser.add_argument("--out", type=Path, help="folder for the report (default reports/compare/<name>)")
    parser.add_argument(
        "--columns",
        type=lambda text: [c.strip() for c in text.split(",") if c.strip()],
        help="comma-separated columns to print (names from comparison.csv; default: run, the swept "
        "parameters, the metric, its spread, epochs, status)",
    )
    parser.add_argument("--width", type=int, help="print within this many columns (default: the terminal's)")
    parser.add_argument("--params", default="params.yaml", help="config giving tracking.uri and experiment")
    args = parser.parse_args()
    cfg = load_config(args.params)
    if args.experiment:
        cfg = cfg.model_copy(
            update={"tracking": cfg.tracking.model_copy(update={"experiment": args.experiment})}
        )
    end_dead_runs_of_experiment(cfg.tracking, cfg.paths)  # a killed run's record says so, FAILED
    if args.experiment:
        runs = [r for r in find_runs(cfg.tracking, cfg.paths) if "sweep_name" not in r.tags]
        title = f"experiment {args.experiment}"
    else:
        parent_id = args.sweep
        if parent_id is None:
            parent = latest_sweep(cfg.tracking, cfg.paths, args.preset)
            if parent is None:
                what = f"preset {args.preset!r}" if args.preset else "any sweep"
                raise PipelineError(
                    f"no sweep found for {what} in experiment {cfg.tracking.experiment!r}; "
                    "run one with `python -m pipeline.run -m ...`"
                )
            parent_id, title = parent.run_id, parent.name
        else:
            title = f"sweep {parent_id}"
        runs = sweep_children(cfg.tracking, cfg.paths, parent_id)
    if not runs:
        raise PipelineError(f"{title}: no runs to compare")
    out = args.out or Path("reports") / "compare" / title.replace(" ", "_")
    compare_runs(cfg.tracking, cfg.paths, runs, out, args.metric, title, args.columns, args.width)
    if not args.experiment:  # a sweep's report lives on its parent run too
        parent = resume_run(cfg.tracking, cfg.paths, parent_id)
        parent.log_artifacts(out, COMPARISON_DIR)
        print(f"logged on the sweep's parent run {parent_id}")


if __name__ == "__main__":
    run_cli(main)
