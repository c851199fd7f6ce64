"""The job function the CLI and the Python API share: one configuration, validated, checked,
trained and evaluated as one MLflow run (pipeline.experiments.job), its `job.json` written
and its objective computed, with the lines a person sees.

`python -m pipeline.run`'s Hydra task function (pipeline.experiments.run) turns a user's
mistake (a PipelineError) into its `error:` line and exit 2; `pipeline.api` into an ApiError.
"""

from __future__ import annotations

import gc
import math
import shlex
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.core.config import Config, validate_config
from pipeline.core.errors import PipelineError
from pipeline.core.files import ERROR_FILE, JOB_FILE
from pipeline.core.io import write_json
from pipeline.experiments.sweep_state import SweepState

CONFIG_SOURCE = "conf/ (Hydra)"
_FROZEN: list[bool] = []  # whether this process froze what its first job's imports made


@dataclass
class JobOutcome:
    """What one job ended with: its validated config (None if it was invalid), the metrics
    report `run_job` returned (None for a failed sweep job), its status and objective."""

    cfg: Config | None
    report: dict[str, Any] | None
    status: str
    objective: float
    error: str | None = None


def one_line(err: BaseException) -> str:
    """The error as the one line a person reads: a PipelineError's text, else its type too."""
    text = " ".join(str(err).split())  # one line: a store's error spans several
    return text if isinstance(err, PipelineError) else f"{type(err).__name__}: {text}"


def job_command(overrides: Sequence[str]) -> str:
    """The command that runs this job alone: `python -m pipeline.run OVERRIDES`."""
    return shlex.join(["python", "-m", "pipeline.run", *overrides])


def shown_path(path: Path) -> str:
    """`path` relative to the current folder when inside it, else absolute."""
    path, cwd = path.resolve(), Path.cwd().resolve()
    return str(path.relative_to(cwd)) if path.is_relative_to(cwd) else str(path)


def check_before_training(cfg: Config, store: bool = True) -> None:
    """The user's errors a job can meet before it trains, found before TensorFlow's import
    (3 to 7 s) so they arrive in the time of Python, pandas and the check: the prepared data
    built or found (a missing file, a bad column, a one-class target), then the tracking
    store reached (with `store`: a server that is away or refuses the credentials). Raises
    PipelineError; what it prepares the job then finds ready."""
    from pipeline.data.cache import ensure_prepared

    ensure_prepared(cfg.dataset, cfg.split, cfg.paths)
    if store and cfg.tracking.enabled:
        from pipeline.tracking.store import open_experiment

        open_experiment(cfg.tracking, cfg.paths)


def freeze_after_imports() -> None:
    """Once per process, after the first job's imports: move every object they made
    (TensorFlow, Keras, MLflow, Hydra: about half a million) out of the garbage collector's
    sight, so neither its full collections during the jobs nor its last one at exit walk them
    again (docs/benchmarks.md). Objects the jobs make later are collected as usual. A flag,
    not `gc.get_freeze_count()`, which walks the frozen objects (0.1 s a call)."""
    if not _FROZEN:
        gc.freeze()
        _FROZEN.append(True)


def execute_job(
    config: Mapping[str, Any] | Any,
    out_dir: Path,
    overrides: Sequence[str],
    sweep: SweepState | None = None,
    job_num: int = 0,
    *,
    pool: Executor | None = None,
    source: str | None = None,
) -> JobOutcome:
    """Validate `config` (a composed mapping or OmegaConf DictConfig), check it before
    training, run it as one MLflow run with its outputs in `out_dir` and write
    `out_dir/job.json` (status, run id, objective, `overrides`).

    In a sweep (`sweep` given: its parent run, job count, picture pool and late pictures),
    the job prints `job k/N started` and `ended` lines, and a failure is recorded in
    job.json, printed as one `error:` line and returned (objective inf) so the other jobs go
    on. Alone, it prints where the run and its outputs are, draws in `pool`, and a failure is
    raised after job.json is written: a PipelineError (the user's mistake) as it is, any other
    error with its traceback in `out_dir/error.txt` (the path as `err.traceback_file`).
    `source` is the command the run's Source names (a sweep's jobs: `python -m pipeline.run`
    with their own overrides)."""
    from omegaconf import DictConfig, OmegaConf

    overrides = list(overrides)
    in_sweep = sweep is not None
    label = sweep.job_label(job_num) if sweep is not None else "job"
    started = time.perf_counter()
    try:
        raw = OmegaConf.to_container(config, resolve=True) if isinstance(config, DictConfig) else config
        cfg = validate_config(raw, CONFIG_SOURCE)  # type: ignore[arg-type]
        if in_sweep:
            print(f"{label} started: {cfg.tracking.run_name} ({' '.join(overrides)})", flush=True)
        check_before_training(cfg, store=not in_sweep)  # a sweep's start has reached the store
        from pipeline.experiments import job  # TensorFlow: only here

        freeze_after_imports()
        if sweep is not None:
            parent, pool, late = sweep.parent_run_id, sweep.pool, sweep.late_pictures()
            source = source or job_command(overrides)
        else:
            parent, late = None, None
        report = job.run_job(cfg, out_dir, parent, pool, late, source)
    except Exception as err:
        message = one_line(err)
        record = {"status": "failed", "error": message, "overrides": overrides}
        write_json(out_dir / JOB_FILE, record | {"run_id": getattr(err, "mlflow_run_id", None)})
        if in_sweep:  # the other jobs go on; the sweep's end reports this one
            print(f"error: job {job_num} ({' '.join(overrides)}): {message}", file=sys.stderr)
            print(f"{label} ended: failed after {time.perf_counter() - started:.1f} s", flush=True)
            return JobOutcome(None, None, "failed", math.inf, message)
        if not isinstance(err, PipelineError):  # not the user's doing: the traceback in a file
            trace = out_dir / ERROR_FILE
            trace.write_text("".join(traceback.format_exception(err)), encoding="utf-8")
            err.traceback_file = trace  # type: ignore[attr-defined]
        raise
    value = job.objective(report)
    if in_sweep:
        took = time.perf_counter() - started
        print(
            f"{label} ended: {cfg.tracking.run_name} {report['status']}, objective {value:.4g}, {took:.1f} s",
            flush=True,
        )
    write_json(
        out_dir / JOB_FILE,
        {"status": report["status"], "run_id": report["run_id"], "objective": value, "overrides": overrides},
    )
    if not in_sweep:  # where it went: the run, and the output folder
        from pipeline.tracking.store import run_location

        print(run_location(cfg.tracking, cfg.paths, report["run_name"], report["run_id"]))
        print(f"outputs: {shown_path(out_dir)}", flush=True)
    return JobOutcome(cfg, report, report["status"], value)
