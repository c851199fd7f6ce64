"""Compare the runs of a sweep, a preset or an experiment: a table, CSV, Markdown and plots.

python -m pipeline.compare                       # the latest sweep
python -m pipeline.compare --preset optimizers   # the latest sweep of a preset
python -m pipeline.compare --sweep RUN_ID        # one sweep, by its parent run id
python -m pipeline.compare --experiment NAME     # every run of an MLflow experiment
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from pipeline.config import PathsConfig, TrackingConfig, load_config
from pipeline.errors import PipelineError, process_main, run_cli
from pipeline.plots import TITLE_Y
from pipeline.tracking import (
    RUN_STATUS_TAG,
    RunSummary,
    find_runs,
    latest_sweep,
    metric_history,
    resume_run,
    sweep_children,
)

DEFAULT_METRIC = "validation_mse_scaled"
METRIC_COLUMNS = (
    "train_mse_scaled",
    "validation_mse_scaled",
    "test_mse_scaled",
    "test_rmse_original",
    "test_r2_original",
    "cv_val_mse_mean",
    "cv_val_mse_std",
    "max_grad_norm",
    "dead_fraction_end",
    "saturated_fraction_end",
)
FIRST_LAYER_GRAD = ("diag/hidden_1/grad_norm", "diag/output/grad_norm")  # a linear net has only `output`
IGNORED_PARAMS = ("tracking.", "paths.")
SEED_PARAM = "training.seed"


def run_status(run: RunSummary) -> str:
    """finished, early_stopped, diverged, failed, killed or running."""
    return run.tags.get(RUN_STATUS_TAG) or run.status.lower()


def varying_params(runs: Sequence[RunSummary]) -> list[str]:
    """Params with two or more distinct values among the runs that have them (tracking and
    paths settings left out); a run that failed before logging a param does not count."""
    keys = sorted({k for r in runs for k in r.params if not k.startswith(IGNORED_PARAMS)})
    return [k for k in keys if len({r.params[k] for r in runs if k in r.params}) > 1]


def comparison_frame(runs: Sequence[RunSummary], metric: str = DEFAULT_METRIC) -> pd.DataFrame:
    """One row per run: what varies, the metrics, epochs run, status; sorted by `metric`."""
    varying = varying_params(runs)
    columns = [c for c in METRIC_COLUMNS if any(c in r.metrics for r in runs)]
    if metric not in columns and any(metric in r.metrics for r in runs):
        columns.append(metric)
    rows = []
    for run in runs:
        row: dict[str, object] = {"run": run.name}
        row |= {p: run.params.get(p) for p in varying}
        row |= {c: run.metrics.get(c, math.nan) for c in columns}
        row["epochs"] = run.tags.get("epochs_run", "")
        row["status"] = run_status(run)
        row["note"] = _note(run)
        row["run_id"] = run.run_id
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    if metric in frame.columns:
        frame = frame.sort_values(metric, na_position="last", kind="stable")
    return frame.reset_index(drop=True)


def _note(run: RunSummary) -> str:
    tags = run.tags
    if tags.get("diverged_epoch"):
        note = f"non-finite loss in epoch {tags['diverged_epoch']}, batch {tags.get('diverged_batch', '?')}"
        if tags.get("diverged_max_grad_layer"):
            note += (
                f"; largest gradient norm before it {tags.get('diverged_max_grad_norm')} "
                f"in {tags['diverged_max_grad_layer']}"
            )
        return note
    if tags.get("stopped_epoch"):
        return f"stopped at epoch {tags['stopped_epoch']}, restored {tags.get('best_epoch', '-')}"
    if tags.get("error"):
        return tags["error"][:120]
    return ""


def seed_summary(frame: pd.DataFrame, metric: str = DEFAULT_METRIC) -> pd.DataFrame:
    """Mean and spread of `metric` per configuration, when runs repeat it over seeds."""
    if SEED_PARAM not in frame.columns or metric not in frame.columns:
        return pd.DataFrame()
    keys = [c for c in frame.columns if "." in c and c != SEED_PARAM]
    grouped = frame.groupby(keys, dropna=False, sort=False) if keys else frame.groupby(lambda _: "all")
    summary = grouped[metric].agg(["mean", "std", "min", "max", "count"]).reset_index()
    summary = summary.rename(columns={c: f"{metric}_{c}" for c in ("mean", "std", "min", "max")})
    return summary.sort_values(f"{metric}_mean", na_position="last").reset_index(drop=True)


def markdown(frame: pd.DataFrame, digits: int = 4) -> str:
    """A GitHub-style Markdown table."""
    if frame.empty:
        return "(no runs)\n"

    def cell(value: object) -> str:
        if isinstance(value, float):
            return "" if math.isnan(value) else f"{value:.{digits}g}"
        return str(value if value is not None else "").replace("|", "\\|")

    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body]) + "\n"


def plot_learning_curves(
    curves: dict[str, list[tuple[int, float]]], path: Path, key: str, ylabel: str | None = None
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=110)
    for name, points in curves.items():
        if points:
            steps, values = zip(*points, strict=True)
            ax.plot(steps, values, label=name, linewidth=1.4)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel or f"{key} (MSE on the scaled target)")
    ax.set_yscale("log")
    flat = [name for name, points in curves.items() if points and max(v for _, v in points) <= 0]
    if flat:
        ax.text(
            0.01,
            0.01,
            f"always 0, not drawn on this log scale: {', '.join(flat)}",
            transform=ax.transAxes,
            fontsize=8,
            color="crimson",
        )
    ax.set_title(f"{key} per epoch, one line per run", y=TITLE_Y)
    ax.grid(True, alpha=0.3)
    if any(curves.values()):
        ax.legend(fontsize=7, loc="upper right", ncol=1 + len(curves) // 12)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_metric_vs_param(frame: pd.DataFrame, param: str, metric: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    values = pd.to_numeric(frame[param], errors="coerce")
    numeric = bool(values.notna().all())
    ok = frame[metric].notna() & frame[metric].map(lambda v: math.isfinite(v) if v == v else False)
    if numeric:
        ax.scatter(values[ok], frame.loc[ok, metric], s=30)
        positive = values[values > 0]
        if len(positive) == len(values) and positive.max() / positive.min() > 100:
            ax.set_xscale("log")
    else:
        text = frame[param].map(lambda v: "-" if pd.isna(v) else str(v))
        labels = sorted(text.unique())
        position = {label: i for i, label in enumerate(labels)}
        xs = text.map(position)
        ax.scatter(xs[ok], frame.loc[ok, metric], s=30)
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
    failed = frame.loc[~ok]
    if not failed.empty:
        ax.text(
            0.01,
            0.98,
            f"{len(failed)} run(s) without {metric} (diverged or failed)",
            transform=ax.transAxes,
            va="top",
            fontsize=8,
            color="crimson",
        )
    ax.set_xlabel(param)
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} against {param}", y=TITLE_Y)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_report(
    frame: pd.DataFrame,
    curves: dict[str, list[tuple[int, float]]],
    out_dir: Path,
    metric: str = DEFAULT_METRIC,
    title: str = "Comparison",
    gradients: dict[str, list[tuple[int, float]]] | None = None,
) -> list[Path]:
    """comparison.md, comparison.csv, learning_curves.png, metric_vs_param.png and, with
    diagnostics, first_layer_gradients.png in `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "comparison.csv", out_dir / "comparison.md"]
    frame.to_csv(written[0], index=False)
    text = f"# {title}\n\nSorted by `{metric}` (lower is better).\n\n{markdown(frame)}"
    seeds = seed_summary(frame, metric)
    if not seeds.empty:
        text += f"\n## Mean and spread over seeds\n\n{markdown(seeds)}"
    written[1].write_text(text, encoding="utf-8")
    plot_learning_curves(curves, out_dir / "learning_curves.png", "val_loss")
    written.append(out_dir / "learning_curves.png")
    if gradients and any(gradients.values()):
        plot_learning_curves(
            gradients,
            out_dir / "first_layer_gradients.png",
            "first layer's kernel gradient norm",
            ylabel="gradient norm (RMS over the epoch's steps)",
        )
        written.append(out_dir / "first_layer_gradients.png")
    varying = [c for c in frame.columns if "." in c and c != SEED_PARAM]
    if varying and metric in frame.columns:
        plot_metric_vs_param(frame, varying[0], metric, out_dir / "metric_vs_param.png")
        written.append(out_dir / "metric_vs_param.png")
    return written


Curves = dict[str, list[tuple[int, float]]]


def collect(
    runs: Sequence[RunSummary], history: Callable[[str, str], list[tuple[int, float]]], metric: str
) -> tuple[pd.DataFrame, Curves, Curves]:
    """The table, each run's validation loss per epoch and its first layer's gradient norm."""
    frame = comparison_frame(runs, metric)
    curves = {run.name: history(run.run_id, "val_loss") for run in runs}
    gradients: Curves = {}
    for run in runs:
        key = next((k for k in FIRST_LAYER_GRAD if k in run.metrics), None)
        if key is not None:
            gradients[run.name] = history(run.run_id, key)
    return frame, curves, gradients


def compare_runs(
    tracking: TrackingConfig,
    paths: PathsConfig,
    runs: Sequence[RunSummary],
    out_dir: Path,
    metric: str,
    title: str,
) -> pd.DataFrame:
    """Build, print and write the comparison of `runs`; return the table."""
    frame, curves, gradients = collect(
        runs, lambda rid, key: metric_history(tracking, paths, rid, key), metric
    )
    write_report(frame, curves, out_dir, metric, title, gradients)
    shown = frame.drop(columns=["run_id"], errors="ignore")
    print(f"{title}: {len(frame)} run(s), sorted by {metric}\n{markdown(shown)}", end="")
    seeds = seed_summary(frame, metric)
    if not seeds.empty:
        print(f"\nmean and spread over seeds:\n{markdown(seeds)}", end="")
    print(f"written to {out_dir}/")
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--sweep", help="a sweep's parent run id")
    source.add_argument("--preset", help="the latest sweep of this preset (tracking.sweep_name)")
    source.add_argument("--experiment", help="every run of this MLflow experiment")
    parser.add_argument("--metric", default=DEFAULT_METRIC, help=f"sort key (default {DEFAULT_METRIC})")
    parser.add_argument("--out", type=Path, help="folder for the report (default reports/compare/<name>)")
    parser.add_argument("--params", default="params.yaml", help="config giving tracking.uri and experiment")
    args = parser.parse_args()
    cfg = load_config(args.params)
    if args.experiment:
        cfg = cfg.model_copy(
            update={"tracking": cfg.tracking.model_copy(update={"experiment": args.experiment})}
        )
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
    compare_runs(cfg.tracking, cfg.paths, runs, out, args.metric, title)
    if not args.experiment:  # a sweep's report lives on its parent run too
        parent = resume_run(cfg.tracking, cfg.paths, parent_id)
        for path in sorted(out.iterdir()):
            parent.log_artifact(path, "comparison")
        parent.close()
        print(f"logged on the sweep's parent run {parent_id}")


if __name__ == "__main__":
    process_main(lambda: run_cli(main))
