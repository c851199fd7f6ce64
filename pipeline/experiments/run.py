"""Hydra entry point: train and evaluate one configuration, or sweep many with `-m`.

    python -m pipeline.run optimizer=adam model.initializer=he_normal
    python -m pipeline.run -m optimizer=sgd,adam,rmsprop
    python -m pipeline.run -m +experiment=initializers

Each job is one MLflow run (pipeline.experiments.job), written into its own Hydra output
folder. In a sweep, a failing job records its failure and lets the others run; the sweep
callback (pipeline.experiments.sweep) then compares the runs and exits non-zero.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

from pipeline.core.credentials import credentials_in_overrides
from pipeline.core.errors import PipelineError, interrupted
from pipeline.core.files import ERROR_FILE
from pipeline.core.overrides import override_syntax_error
from pipeline.core.quiet import quiet_library_loggers, quiet_tensorflow_logs
from pipeline.experiments.execute import execute_job, one_line
from pipeline.experiments.sweep_state import process_state

CONFIG_DIR = "conf"


def _job(dict_cfg: Any) -> float:
    """Hydra's task function: the shared job (pipeline.experiments.execute) with this
    process's sweep state in a multirun; a user's mistake is one `error:` line and exit 2,
    any other error one line naming its traceback's file and exit 1."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hydra_cfg = HydraConfig.get()
    out_dir = Path(hydra_cfg.runtime.output_dir)
    state = process_state()
    sweep = state if hydra_cfg.mode == RunMode.MULTIRUN else None
    num = int(hydra_cfg.job.num) if sweep is not None else 0  # a single run has no job number
    try:
        outcome = execute_job(dict_cfg, out_dir, list(hydra_cfg.overrides.task), sweep, num, pool=state.pool)
    except PipelineError as err:
        print(f"error: {one_line(err)}", file=sys.stderr)
        raise SystemExit(2) from None
    except Exception as err:
        print(f"error: {one_line(err)} (traceback in {out_dir / ERROR_FILE})", file=sys.stderr)
        raise SystemExit(1) from None
    return outcome.objective


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


def override_error(arguments: list[str], config_dir: Path) -> str | None:
    """What is wrong with command-line overrides before Hydra sees them, as the one line the
    CLI prints after `error: ` (and `pipeline.api` raises): credentials in tracking.uri
    (before Hydra writes them into its output folder), the override grammar, a config group
    option that conf/ lacks; None when they pass."""
    return (
        credentials_in_overrides(arguments)
        or override_syntax_error(arguments)
        or unknown_group_option(arguments, config_dir)
    )


def main() -> None:
    import hydra

    quiet_tensorflow_logs()  # the picture workers and launchers' workers inherit it
    quiet_library_loggers()
    config_dir = (Path.cwd() / CONFIG_DIR).resolve()
    if not config_dir.is_dir():
        print(f"error: {config_dir} not found; run from the project root", file=sys.stderr)
        raise SystemExit(2)
    arguments = [a for a in sys.argv[1:] if not a.startswith("-")]
    unknown = override_error(arguments, config_dir)
    if unknown:
        print(f"error: {unknown}", file=sys.stderr)
        raise SystemExit(2)
    # conf/hydra/launcher/ray.yaml extends the Ray plugin's schema of the same name on purpose
    warnings.filterwarnings("ignore", message="(?s).*is validated against ConfigStore schema")
    from pipeline.reports.plots import drawing_pool

    state = process_state()
    try:
        with drawing_pool() as pool:
            state.pool = pool
            try:
                hydra.main(version_base="1.3", config_path=str(config_dir), config_name="config")(_job)()
            finally:
                state.pool = None
    except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM during a run (tracking.recorder.Terminated)
        try:  # the finished jobs of a sweep keep the pictures drawn so far
            state.log_late_pictures(drawn_only=True)
        except Exception as late_err:  # noqa: BLE001 - the store may be what failed
            print(f"error: could not add the finished jobs' pictures: {late_err}", file=sys.stderr)
        closed = state.close_interrupted()
        state.finish()
        print(interrupted(err, closed), file=sys.stderr)
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
