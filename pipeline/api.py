"""The Python face of the pipeline, for a notebook's warm kernel: the same job as
`python -m pipeline.run` (pipeline.experiments.execute), composed from the project's conf/
with Hydra's compose API, recorded in the same MLflow store.

    from pipeline import api
    run = api.run("dataset=facebook", "optimizer=adam", "training.epochs=50")
    run.history.plot(x="epoch", y=["train_loss", "val_loss"])
    sweep = api.sweep("optimizer=sgd,adam", "training.seed=1,2,3")
    sweep.table, sweep.verdict
    api.runs(sweep=sweep.parent_run_id)

Every call works in the project root (`project()`: found from the package, or set once), as
the CLI does when started there: relative paths in overrides, outputs/ and mlflow.db are the
project's. A user's mistake (a bad override, an invalid value, missing data) raises ApiError
with the CLI's one-line message; other errors propagate with their traceback.

Nothing leaks from one call into the next: each job starts from a cleared Keras session and
its config's seeds, no MLflow run is left active, and Hydra's global state is as it was
before the call. What persists on purpose: the imports (TensorFlow, MLflow, Hydra: the second
call pays none), TensorFlow's compiled-function caches, the picture pool (worker processes
that draw the figures, started on first use and shut down at exit; `picture_pool()`),
gc.freeze of what the first job's imports made (pipeline.experiments.execute), the project
set with `project()`, and MLflow's tracking URI, which logging a model sets to the run's
store. The job's working folder is the project root during a call, and the caller's after.
"""

from __future__ import annotations

import ast
import atexit
import contextlib
import sys
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from pipeline.core.errors import PipelineError, interrupted
from pipeline.experiments.results import Run, Sweep, run_from_job, runs_frame, sweep_result

__all__ = ["ApiError", "Run", "Sweep", "picture_pool", "project", "run", "runs", "sweep"]


class ApiError(PipelineError):
    """A user's mistake: `str(err)` is the CLI's one-line message without its `error: `."""


_PROJECT: list[Path] = []
_POOL: list[Executor] = []
_POOL_SETTING: list[bool] = []
_POOL_EXIT = contextlib.ExitStack()


def project(path: str | Path | None = None) -> Path:
    """The project root (it holds conf/; mlflow.db and outputs/ go there). With `path`, set it
    for every later call. Default: the folder above the package when it holds conf/ (a
    notebook in notebooks/ records into the project's store), else the current folder."""
    if path is not None:
        root = Path(path).expanduser().resolve()
        if not (root / "conf").is_dir():
            raise ApiError(f"{root / 'conf'} not found; api.project() takes the folder that holds conf/")
        _PROJECT[:] = [root]
        return root
    if _PROJECT:
        return _PROJECT[0]
    import pipeline

    package_root = Path(pipeline.__file__).resolve().parents[1]
    return package_root if (package_root / "conf").is_dir() else Path.cwd().resolve()


@contextlib.contextmanager
def _session(overrides: Sequence[str]) -> Iterator[Path]:
    """Work in the project root with the CLI's pre-checks passed; a PipelineError leaves as ApiError."""
    from pipeline.core.quiet import quiet_library_loggers, quiet_tensorflow_logs
    from pipeline.experiments.run import override_error

    root = project()
    if not (root / "conf").is_dir():
        raise ApiError(f"{root / 'conf'} not found; set the project with api.project('/path/to/project')")
    flags = [o for o in overrides if not isinstance(o, str) or o.startswith("-") or "=" not in o]
    if flags:
        raise ApiError(f"{flags[0]!r} is no override; pass KEY=VALUE or GROUP=OPTION strings")
    problem = override_error(list(overrides), root / "conf")
    if problem:
        raise ApiError(problem)
    quiet_tensorflow_logs()
    quiet_library_loggers()
    warnings.filterwarnings("ignore", message="(?s).*is validated against ConfigStore schema")
    try:
        with contextlib.chdir(root):
            yield root
    except ApiError:
        raise
    except PipelineError as err:
        raise ApiError(" ".join(str(err).split())) from None


def picture_pool(enabled: bool | None = None) -> bool:
    """Whether runs draw their pictures in worker processes (while the next job trains) or in
    this process; with `enabled`, set it. On by default in a notebook, a console, under
    `python -m` and in a script with an `if __name__ == "__main__":` block; off in a script
    without one, whose top level the workers (spawned, never forked from TensorFlow) would
    run again."""
    if enabled is not None:
        _POOL_SETTING[:] = [enabled]
    if _POOL_SETTING:
        return _POOL_SETTING[0]
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path is None or getattr(main, "__spec__", None) is not None:
        return True
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return False
    tests = [ast.unparse(node.test) for node in tree.body if isinstance(node, ast.If)]
    return any("__name__" in test and "__main__" in test for test in tests)


def _pool() -> Executor | None:
    """The picture pool, started on first use and kept for the kernel's life; None when off."""
    if not picture_pool():
        return None
    if not _POOL:
        from pipeline.reports.plots import drawing_pool

        _POOL.append(_POOL_EXIT.enter_context(drawing_pool()))
        atexit.register(_POOL_EXIT.close)
    return _POOL[0]


def _fresh_dir(pattern: str) -> Path:
    """A new folder at `pattern` (Hydra's run or sweep dir, `now` resolved), relative to the
    project root; `_2`, `_3`... appended when two calls land in the same second."""
    base = Path(pattern)
    for n in range(1, 1000):
        folder = base if n == 1 else base.with_name(f"{base.name}_{n}")
        try:
            folder.mkdir(parents=True)
            return folder.resolve()
        except FileExistsError:
            continue
    raise PipelineError(f"{base}: no free output folder")


def _composed(root: Path, overrides: Sequence[str]) -> tuple[Any, Any]:
    """(the job's config, Hydra's node) for `overrides`, composed as the CLI composes them."""
    from omegaconf import open_dict

    from pipeline.experiments.grid import compose

    cfg = compose(root / "conf", overrides, with_hydra=True)
    hydra_node = cfg.hydra
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg, hydra_node


def _store_settings(cfg: Any) -> tuple[Any, Any]:
    """The composed tracking and paths settings, validated (the rest may be a sweep's to fill in)."""
    from omegaconf import OmegaConf
    from pydantic import ValidationError

    from pipeline.core.config import PathsConfig, TrackingConfig

    try:
        tracking = TrackingConfig.model_validate(OmegaConf.to_container(cfg.tracking, resolve=True))
        paths = PathsConfig.model_validate(OmegaConf.to_container(cfg.paths, resolve=True))
    except ValidationError as err:
        problem = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise ApiError(f"conf/: invalid tracking or paths configuration: {problem}") from None
    return tracking, paths


def _fresh_keras() -> None:
    """A cleared Keras session for the next job (nothing to clear before the first import).
    Keras' full garbage collection (`free_memory`) is skipped: 0.15 s a job, and Python's own
    collector frees the last job's objects as usual."""
    keras = sys.modules.get("keras")
    if keras is not None:
        keras.backend.clear_session(free_memory=False)


def run(*overrides: str) -> Run:
    """Train and evaluate one configuration as `python -m pipeline.run OVERRIDES` does: one
    MLflow run in the same store, outputs in outputs/runs/<time>/ under the project. Raises
    ApiError for a user's mistake (the CLI's `error:` line); any other error propagates, its
    traceback also in the output folder's error.txt."""
    from omegaconf import OmegaConf

    from pipeline.experiments.execute import execute_job, job_command
    from pipeline.experiments.grid import is_sweep

    with _session(overrides) as root:
        swept = [o for o in overrides if is_sweep(o)]
        if swept:
            raise ApiError(f"{swept[0]!r} sweeps several values; api.run takes one, api.sweep sweeps them")
        cfg, hydra_node = _composed(root, overrides)
        out_dir = _fresh_dir(str(OmegaConf.select(hydra_node, "run.dir")))
        _fresh_keras()
        outcome = execute_job(
            cfg, out_dir, list(overrides), None, 0, pool=_pool(), source=job_command(overrides)
        )
        return run_from_job(outcome.cfg, out_dir, outcome.report, outcome.status)


def sweep(*overrides: str) -> Sweep:
    """Run a grid (a preset's `hydra.sweeper.params` and comma lists, as Hydra's basic sweeper
    expands them) one job after another in this process, as `python -m pipeline.run -m
    OVERRIDES` does: the same parent run, children, comparison and pictures, outputs in
    outputs/sweeps/<time>/<job>/. A failed job is recorded and reported, the others go on.
    Search presets (the Optuna sweeper) raise ApiError: they run from the CLI until the
    search issue lands."""
    from omegaconf import OmegaConf

    from pipeline.core.credentials import credentials_error
    from pipeline.experiments.execute import execute_job
    from pipeline.experiments.grid import compose_each, grid_jobs, is_sweep, search_sweeper
    from pipeline.experiments.sweep_run import (
        begin_sweep,
        end_sweep,
        record_early_failure,
        report_failed,
        sweep_metric,
    )
    from pipeline.experiments.sweep_state import SweepState

    with _session(overrides) as root:
        base, hydra_node = _composed(root, [o for o in overrides if not is_sweep(o)])
        searcher = search_sweeper(hydra_node)
        if searcher:
            command = " ".join(["python -m pipeline.run -m", *overrides])
            raise ApiError(
                f"this sweep is a search ({searcher} sweeper); searches run from the CLI until the "
                f"search issue lands: {command}"
            )
        params = OmegaConf.select(hydra_node, "sweeper.params", default=None)
        preset = OmegaConf.to_container(params, resolve=False) if params is not None else {}
        grid = grid_jobs(preset, overrides)  # type: ignore[arg-type]
        configs = compose_each(root / "conf", grid)  # every job's mistakes before any record
        refused = credentials_error(OmegaConf.select(base, "tracking.uri", default=None))
        if refused:
            raise ApiError(refused)
        tracking, paths = _store_settings(base)
        metric = sweep_metric(OmegaConf.select(base, "training.cv_folds", default=0))
        sweep_dir = _fresh_dir(str(OmegaConf.select(hydra_node, "sweep.dir")))
        state = SweepState(jobs=len(grid), pool=_pool())
        begin_sweep(state, tracking, paths, metric, sweep_dir, list(overrides))
        outcomes = []
        try:
            for num, (job, cfg) in enumerate(zip(grid, configs, strict=True)):
                out_dir = sweep_dir / str(num)
                out_dir.mkdir(parents=True, exist_ok=True)
                _fresh_keras()
                outcomes.append(execute_job(cfg, out_dir, job, state, num))
                record_early_failure(state, out_dir, str(num))
        except KeyboardInterrupt as err:  # the parent run ends KILLED, the finished jobs keep their pictures
            state.log_late_pictures(drawn_only=True)
            closed = state.close_interrupted()
            state.finish()
            print(interrupted(err, closed), file=sys.stderr)
            raise
        end = end_sweep(state, sweep_dir)
        report_failed(end.failed, end.jobs)
        return sweep_result(sweep_dir, outcomes, end, metric)


def runs(*overrides: str, sweep: str | None = None) -> Any:
    """The recorded runs, oldest first, of the store and experiment that the same overrides
    would record into (`api.runs("tracking.experiment=mine")`), or of one sweep (`sweep=` its
    parent run's id): a pandas DataFrame with `run_id`, `run_name`, `status`, `start_time`,
    then `params.*`, `metrics.*` and `tags.*` columns as mlflow.search_runs names them."""
    from pipeline.tracking.queries import find_runs
    from pipeline.tracking.recorder import PARENT_TAG

    with _session(overrides) as root:
        cfg, _ = _composed(root, overrides)
        tracking, paths = _store_settings(cfg)
        query = f"tags.`{PARENT_TAG}` = '{sweep}'" if sweep else ""
        return runs_frame(find_runs(tracking, paths, query))
