"""Hydra entry point: train and evaluate one configuration, or sweep many with `-m`.

    python -m pipeline.run optimizer=adam model.initializer=he_normal
    python -m pipeline.run -m optimizer=sgd,adam,rmsprop
    python -m pipeline.run -m +experiment=initializers

Each job is one MLflow run (pipeline.experiments.job), written into its own Hydra output
folder. In a sweep, a failing job records its failure and lets the others run; the sweep
callback (pipeline.experiments.sweep) then compares the runs and exits non-zero.
"""

from __future__ import annotations

import gc
import math
import os
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.core.credentials import credentials_in_overrides
from pipeline.core.errors import PipelineError, interrupted
from pipeline.core.files import ERROR_FILE, JOB_FILE
from pipeline.core.io import write_json
from pipeline.core.overrides import override_syntax_error
from pipeline.core.quiet import quiet_library_loggers, quiet_tensorflow_logs

if TYPE_CHECKING:
    from pipeline.core.config import Config

CONFIG_DIR = "conf"
PARENT_ENV = "PIPELINE_SWEEP_PARENT_RUN_ID"
JOBS_ENV = "PIPELINE_SWEEP_JOBS"  # how many jobs the sweep runs, for `job k/N` lines
# the pictures' process pool of a `python -m pipeline.run` process ("pool"), for the jobs it
# runs itself, and in a sweep the pictures its jobs left to draw ("late"); jobs in a
# launcher's worker processes (joblib, Ray) draw their pictures at once
_pictures: dict[str, Any] = {}
_frozen: list[bool] = []  # whether this process froze what its imports made
# what to close when Ctrl-C or SIGTERM ends this process (a sweep's parent run, KILLED);
# each returns a note naming what it closed, for the interrupt's one line
ON_INTERRUPT: dict[str, Callable[[], str | None]] = {}


def _job(dict_cfg: Any) -> float:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    from pipeline.core.config import validate_config

    hydra_cfg = HydraConfig.get()
    out_dir = Path(hydra_cfg.runtime.output_dir)
    overrides = list(hydra_cfg.overrides.task)
    in_sweep = hydra_cfg.mode == RunMode.MULTIRUN
    job = f"job {int(hydra_cfg.job.num) + 1}/{os.environ.get(JOBS_ENV, '?')}" if in_sweep else "job"
    started = time.perf_counter()
    try:
        cfg = validate_config(OmegaConf.to_container(dict_cfg, resolve=True), "conf/ (Hydra)")
        if in_sweep:
            print(f"{job} started: {cfg.tracking.run_name} ({' '.join(overrides)})", flush=True)
        check_before_training(cfg, store=not in_sweep)  # a sweep's callback has reached the store
        from pipeline.experiments.job import LatePictures, objective, run_job  # TensorFlow: only here

        freeze_after_imports()
        pool = _pictures.get("pool")
        late = _pictures.setdefault("late", LatePictures()) if in_sweep and pool is not None else None
        report = run_job(cfg, out_dir, os.environ.get(PARENT_ENV), pool, late)
    except Exception as err:
        text = " ".join(str(err).split())  # one line: a store's error spans several
        message = text if isinstance(err, PipelineError) else f"{type(err).__name__}: {text}"
        record = {"status": "failed", "error": message, "overrides": overrides}
        write_json(out_dir / JOB_FILE, record | {"run_id": getattr(err, "mlflow_run_id", None)})
        if in_sweep:
            # the other jobs go on; the sweep callback reports this one and exits non-zero
            print(f"error: job {hydra_cfg.job.num} ({' '.join(overrides)}): {message}", file=sys.stderr)
            print(f"{job} ended: failed after {time.perf_counter() - started:.1f} s", flush=True)
            return math.inf
        if isinstance(err, PipelineError):
            print(f"error: {message}", file=sys.stderr)
            raise SystemExit(2) from None
        # Not the user's doing: one line here, the traceback in a file (and in the run, if any).
        trace = out_dir / ERROR_FILE
        trace.write_text("".join(traceback.format_exception(err)), encoding="utf-8")
        print(f"error: {message} (traceback in {trace})", file=sys.stderr)
        raise SystemExit(1) from None
    value = objective(report)
    if in_sweep:
        took = time.perf_counter() - started
        print(
            f"{job} ended: {cfg.tracking.run_name} {report['status']}, objective {value:.4g}, {took:.1f} s",
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
    return value


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
    again (docs/benchmarks.md). Objects the jobs make later are collected as usual."""
    if not _frozen:
        gc.freeze()
        _frozen.append(True)


def log_late_pictures(drawn_only: bool = False) -> None:
    """Wait for the pictures a sweep's jobs left to draw (with `drawn_only`, take those
    already drawn) and add them to their runs."""
    late = _pictures.get("late")
    if late is not None:
        late.log(drawn_only)


def group_options(values: list[str], group: str, config_dir: Path) -> str | None:
    """The first of `values` naming no `conf/<group>/<value>.yaml`, as a message listing the valid ones."""
    valid = sorted(p.stem for p in (config_dir / group).glob("*.yaml"))
    bad = [v for v in values if v not in valid]
    if not bad:
        return None
    return f"conf/{group}/{bad[0]}.yaml does not exist; {group} must be one of {', '.join(valid)}"


def unknown_group_option(arguments: list[str], config_dir: Path) -> str | None:
    """A command-line choice of a config group option that conf/ lacks (`optimizer=adamax`,
    `optimizer=sgd,adamax`, `+experiment=typo`), found before Hydra composes anything.
    Hydra's own groups (hydra/launcher=...) come from plugins and are left to Hydra."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    for argument in arguments:
        try:
            override = parser.parse_override(argument)
            group = override.key_or_group
            skipped = override.is_delete() or override.value() is None  # `group=null` deselects
            if skipped or group.startswith("hydra") or not (config_dir / group).is_dir():
                continue
            if override.is_sweep_override():
                values = list(override.sweep_string_iterator())
            else:
                values = [override.get_value_element_as_str()]
        except Exception:  # noqa: BLE001 - not an override, or a sweep Hydra expands itself
            continue
        message = group_options(values, group, config_dir)
        if message:
            return message
    return None


def main() -> None:
    import hydra

    quiet_tensorflow_logs()  # the picture workers and launchers' workers inherit it
    quiet_library_loggers()
    config_dir = (Path.cwd() / CONFIG_DIR).resolve()
    if not config_dir.is_dir():
        print(f"error: {config_dir} not found; run from the project root", file=sys.stderr)
        raise SystemExit(2)
    arguments = [a for a in sys.argv[1:] if not a.startswith("-")]
    unknown = (
        credentials_in_overrides(arguments)  # before Hydra writes them into its output folder
        or override_syntax_error(arguments)
        or unknown_group_option(arguments, config_dir)
    )
    if unknown:
        print(f"error: {unknown}", file=sys.stderr)
        raise SystemExit(2)
    # conf/hydra/launcher/ray.yaml extends the Ray plugin's schema of the same name on purpose
    warnings.filterwarnings("ignore", message="(?s).*is validated against ConfigStore schema")
    from pipeline.reports.plots import drawing_pool

    try:
        with drawing_pool() as pool:
            _pictures["pool"] = pool
            hydra.main(version_base="1.3", config_path=str(config_dir), config_name="config")(_job)()
    except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM during a run (tracking.recorder.Terminated)
        closed: list[str | None] = []
        try:  # the finished jobs of a sweep keep the pictures drawn so far
            log_late_pictures(drawn_only=True)
        except Exception as late_err:  # noqa: BLE001 - the store may be what failed
            print(f"error: could not add the finished jobs' pictures: {late_err}", file=sys.stderr)
        for close in list(ON_INTERRUPT.values()):
            try:
                closed.append(close())
            except Exception as close_err:  # noqa: BLE001 - the store may be what failed
                print(f"error: could not close the sweep's parent run: {close_err}", file=sys.stderr)
        print(interrupted(err, [note for note in closed if note]), file=sys.stderr)
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
