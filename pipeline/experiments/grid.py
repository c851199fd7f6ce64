"""Hydra's public compose API for callers without `hydra.main` (pipeline.api): conf/
composed with override strings as typed on the command line, its errors as one line, and a
sweep's grid expanded as Hydra's basic sweeper expands it.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pipeline.core.errors import PipelineError

CONFIG_NAME = "config"
VERSION_BASE = "1.3"  # as `python -m pipeline.run`
SEARCH_SWEEPERS = ("optuna",)  # sweepers that choose their jobs as they go (the search issue)
_NOISE = ("full_key:", "object_type=", "reference_type=", "Set the environment variable HYDRA_FULL_ERROR")


def hydra_error_line(err: BaseException) -> str:
    """Hydra's or OmegaConf's composition error, with its cause, as one line (the
    `full_key:`/`object_type=` lines and the HYDRA_FULL_ERROR advice dropped): `Could not
    override 'training.epochz'; To append to your config use +training.epochz=3; Key
    'epochz' is not in struct`."""
    kept: list[str] = []
    cause: BaseException | None = err
    while cause is not None and len(kept) < 8:
        for line in str(cause).splitlines():
            line = line.strip().rstrip(".")
            if line and not line.startswith(_NOISE) and line not in kept:
                kept.append(line)
        cause = cause.__cause__
    return "; ".join(kept) or type(err).__name__


def compose(config_dir: Path, overrides: Sequence[str], with_hydra: bool = False) -> Any:
    """conf/ composed with `overrides` (no sweep among them) as an OmegaConf DictConfig, with
    the `hydra` node when `with_hydra`. Hydra's global state is as it was before the call
    (clear, for a caller that had none). A composition error is a PipelineError in one line."""
    return compose_each(config_dir, [overrides], with_hydra)[0]


def compose_each(config_dir: Path, jobs: Sequence[Sequence[str]], with_hydra: bool = False) -> list[Any]:
    """`compose` for each job's overrides, under one initialization of Hydra (a sweep's
    jobs: Hydra's start, not the composition, is what costs)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_dir(str(config_dir), version_base=VERSION_BASE):
            return [hydra_compose(CONFIG_NAME, list(job), return_hydra_config=with_hydra) for job in jobs]
    except (HydraException, OmegaConfBaseException) as err:
        raise PipelineError(hydra_error_line(err)) from None


def is_sweep(override: str) -> bool:
    """Whether an override sweeps (`optimizer=sgd,adam`, `x=range(3)`, `x=choice(1,2)`)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create().parse_override(override).is_sweep_override()


def search_sweeper(hydra_node: Any) -> str | None:
    """The search sweeper a preset chose (`optuna`), or None for the basic (grid) sweeper."""
    from omegaconf import OmegaConf

    target = str(OmegaConf.select(hydra_node, "sweeper._target_", default="") or "").lower()
    return next((name for name in SEARCH_SWEEPERS if name in target), None)


def grid_jobs(params: Mapping[str, Any], overrides: Sequence[str]) -> list[list[str]]:
    """Each job's overrides, as Hydra's basic sweeper makes them: the preset's
    `hydra.sweeper.params` (`key: a,b`) first, then the command line's overrides (a key given
    again takes its place in the order and replaces its values); every combination, the
    first key varying slowest (itertools.product). A sweep Hydra's grid cannot list (an
    interval) is a PipelineError."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    arguments = [f"{key}={value}" for key, value in params.items()] + list(overrides)
    try:
        parsed = OverridesParser.create().parse_overrides(arguments)
    except HydraException as err:
        raise PipelineError(hydra_error_line(err)) from None
    choices: OrderedDict[str, list[str]] = OrderedDict()
    for override in parsed:
        key = override.get_key_element()
        if override.is_sweep_override():
            if override.is_interval_sweep():
                grid = "list the values (a,b,c) or use range(start,stop,step)"
                raise PipelineError(f"{key}: an interval sweep has no grid; {grid}")
            choices[key] = [f"{key}={value}" for value in override.sweep_string_iterator()]
        else:
            choices[key] = [f"{key}={override.get_value_element_as_str()}"]
    return [list(job) for job in itertools.product(*choices.values())]
