"""Hydra callback for multiruns: one MLflow parent run per sweep, the comparison at the end.

Configured in conf/config.yaml (`hydra.callbacks.sweep`). At the start it creates the
store, the experiment and the parent run once, before parallel jobs could race on them,
and prepares the data the sweep's base configuration needs, once. Hydra ships this
callback to every job (the Ray launcher pickles it to other machines), so `on_job_start`
hands the parent's id, the job count and the store's settings to the job's process
(its SweepState, pipeline.experiments.sweep_state) wherever it runs, and `on_job_end`
records a job that failed before it could start its own run as a FAILED child. At the end
it compares the children read back from MLflow (a job on another machine leaves nothing
on this disk), logs the report on the parent, closes it with the true status, and exits
non-zero when a job failed. The begin and the end are pipeline.experiments.sweep_run's,
which `pipeline.api.sweep` runs too.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf
from pydantic import ValidationError

from pipeline.core.config import PathsConfig, TrackingConfig, validate_config
from pipeline.core.credentials import credentials_error
from pipeline.core.errors import PipelineError
from pipeline.core.quiet import quiet_optuna
from pipeline.data.cache import ensure_prepared
from pipeline.experiments.sweep_run import (
    begin_sweep,
    end_sweep,
    record_early_failure,
    report_failed,
    sweep_metric,
)
from pipeline.experiments.sweep_state import process_state


def remote_tracking_error(launcher_target: str, tracking: TrackingConfig) -> str | None:
    """Jobs on other machines can only record to a tracking server, never to this machine's file."""
    if "RayLauncher" not in launcher_target or not tracking.enabled:
        return None
    if tracking.uri and tracking.uri.startswith(("http://", "https://")):
        return None
    return (
        f"tracking.uri is {tracking.uri or 'unset (the local mlflow.db)'}; jobs on a Ray cluster "
        "record to a tracking server: set tracking.uri=http://HOST:PORT (mlflow server --serve-artifacts)"
    )


def prepare_base_data(config: DictConfig) -> None:
    """Prepare the base configuration's data before any job starts (jobs on other machines
    receive it with the project folder). Best effort: a sweep may fill in what makes the
    base configuration valid, and each job reports its own data errors."""
    try:
        cfg = validate_config(OmegaConf.to_container(config, resolve=True), "conf/ (Hydra)")
        ensure_prepared(cfg.dataset, cfg.split, cfg.paths)
    except Exception:  # noqa: BLE001 - the jobs prepare (or fail) on their own
        return


def sweep_size(config: DictConfig) -> int | None:
    """How many jobs the sweep runs: the Optuna sweeper's `n_trials`, or the product of
    the value counts of the swept keys (the preset's `hydra.sweeper.params`, then the
    command line's); None when it cannot be told."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    sweeper = OmegaConf.select(config, "hydra.sweeper", default=None)
    if sweeper is None:
        return None
    if "optuna" in str(sweeper.get("_target_", "")).lower():
        return int(sweeper.n_trials)
    params = sweeper.get("params") or {}
    swept = [f"{key}={value}" for key, value in params.items()]
    counts: dict[str, int] = {}
    try:
        for override in OverridesParser.create().parse_overrides([*swept, *config.hydra.overrides.task]):
            is_sweep = override.is_sweep_override()
            counts[override.key_or_group] = len(list(override.sweep_string_iterator())) if is_sweep else 1
    except Exception:  # noqa: BLE001 - a sweep form this count does not know (interval, glob)
        return None
    total = 1
    for count in counts.values():
        total *= count
    return total


def refuse_credentials(config: DictConfig) -> None:
    """One line and exit 2 when the composed `tracking.uri` (from conf/, a preset or the
    command line) holds credentials: called before Hydra writes its output folder."""
    uri = OmegaConf.select(config, "tracking.uri", default=None, throw_on_resolution_failure=False)
    refused = credentials_error(uri if isinstance(uri, str) else None)
    if refused:
        print(f"error: {refused}", file=sys.stderr)
        raise SystemExit(2)


class SweepCallback(Callback):
    """The CLI's sweep: this process's SweepState (pipeline.experiments.sweep_state) begun and
    ended with the functions `pipeline.api.sweep` uses (pipeline.experiments.sweep_run). The
    parent's id and the job count are plain attributes, so they reach launchers' workers
    with the pickled callback."""

    def __init__(self) -> None:
        self.settings: tuple[TrackingConfig, PathsConfig, str] | None = None
        self.parent_id: str | None = None
        self.jobs: int | None = None

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        refuse_credentials(config)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        refuse_credentials(config)
        # Only tracking and paths are needed here: other keys may be filled in by the sweep.
        try:
            tracking = TrackingConfig.model_validate(OmegaConf.to_container(config.tracking, resolve=True))
            paths = PathsConfig.model_validate(OmegaConf.to_container(config.paths, resolve=True))
        except ValidationError as err:
            print(f"error: conf/: invalid tracking or paths configuration: {err}", file=sys.stderr)
            raise SystemExit(2) from None
        remote_error = remote_tracking_error(
            str(OmegaConf.select(config, "hydra.launcher._target_")), tracking
        )
        if remote_error:
            print(f"error: conf/ (Hydra): {remote_error}", file=sys.stderr)
            raise SystemExit(2)
        metric = sweep_metric(OmegaConf.select(config, "training.cv_folds", default=0))
        if "optuna" in str(OmegaConf.select(config, "hydra.sweeper._target_", default="")).lower():
            quiet_optuna()  # before the sweeper creates its study
        state = process_state()
        self.jobs = state.jobs = sweep_size(config)
        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            begin_sweep(state, tracking, paths, metric, sweep_dir, list(config.hydra.overrides.task))
        except PipelineError as err:  # a server that refuses or is not there: no job would record
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(2) from None
        self.parent_id, self.settings = state.parent_run_id, state.settings
        if self.parent_id is not None:
            prepare_base_data(config)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        # In the job's own process, which may be on another machine (Ray): the callback's values.
        process_state().join(self.parent_id, self.jobs, self.settings)

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        """A job that failed before starting its run gets a FAILED child, recorded from where it ran."""
        if self.parent_id is None:  # a single run, or a sweep without tracking
            return
        record_early_failure(
            process_state(), Path(config.hydra.runtime.output_dir), str(config.hydra.job.num)
        )

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            end = end_sweep(process_state(), Path(config.hydra.sweep.dir))
        except PipelineError as err:
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(1) from None
        if end.failed:
            report_failed(end.failed, end.jobs)
            raise SystemExit(1)
        if not end.compared:
            raise SystemExit(1)
