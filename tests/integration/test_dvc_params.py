"""A stage reads only what it declares: every key of the config schema, changed alone, makes
`dvc status` report each stage that reads it, and every dataset and split key changes the
prepared-data fingerprint (issue 34).

The keys come from the pydantic models (pipeline.core.config), walked recursively, not from a
list: a key added to the schema is tested the day it is added. DVC runs in process on a
private folder holding the project's params.yaml and its dvc.yaml's stages (command and
params, as written) with a dvc.lock recorded from that params.yaml, so each status call
compares one changed key against the lock.
"""

from __future__ import annotations

import ast
import copy
import types
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from pipeline.core.config import (
    Config,
    DatasetConfig,
    ModelConfig,
    OptimizerConfig,
    SplitConfig,
    TrackingConfig,
    TrainingConfig,
    validate_config,
)
from pipeline.data.fingerprint import config_fingerprint, data_fingerprint

ROOT = Path(__file__).resolve().parents[2]
GROUPS: dict[str, type[BaseModel]] = {
    "dataset": DatasetConfig,
    "split": SplitConfig,
    "model": ModelConfig,
    "optimizer": OptimizerConfig,
    "training": TrainingConfig,
    "tracking": TrackingConfig,
}
# Which stages read each group, from their code: ingest and normalize the data set; split the
# data set (its manifest's fingerprint) and the split; train builds and trains from model,
# optimizer and training and records every group as MLflow params (dataset and split also
# in the check that its prepared data matches them); evaluate reruns whenever train does,
# so that the new run gets its test metrics.
READERS = {
    "dataset": {"ingest", "normalize", "split", "train", "evaluate"},
    "split": {"split", "train", "evaluate"},
    "model": {"train", "evaluate"},
    "optimizer": {"train", "evaluate"},
    "training": {"train", "evaluate"},
    "tracking": {"train", "evaluate"},
}
DATA_GROUPS = ("dataset", "split")
# dataset and split keys that do not shape the prepared data, each with its reason: none
NOT_DATA: dict[str, str] = {}


def submodel(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside a field's annotation (`X`, `X | None`), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next((m for m in map(submodel, typing.get_args(annotation)) if m is not None), None)


def leaf_keys(model: type[BaseModel], prefix: str) -> dict[str, Any]:
    """Every leaf key of `model` as a dotted name, with its annotation."""
    keys: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        inner = submodel(field.annotation)
        if inner is None:
            keys[f"{prefix}{name}"] = field.annotation
        else:
            keys |= leaf_keys(inner, f"{prefix}{name}.")
    return keys


SCHEMA_KEYS = {
    key: kind for group, model in GROUPS.items() for key, kind in leaf_keys(model, f"{group}.").items()
}


def candidates(annotation: Any, current: Any) -> list[Any]:
    """Values other than `current` that a field of this type may take, to try in turn."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return [value for arg in args for value in candidates(arg, current)]
    if origin is typing.Literal:
        return list(args)
    if origin is list:
        element = candidates(args[0], None)[0]
        return [[*(current if isinstance(current, list) else []), element]]
    if origin is dict or annotation is dict:
        return [{"scale": 2.0}]
    if annotation is type(None):
        return [None]
    if annotation is bool:
        return [not current]
    if annotation is int:
        base = current if isinstance(current, int) and not isinstance(current, bool) else 0
        return [base + 1, base + 2, 10]
    if annotation is float:
        base = float(current) if isinstance(current, int | float) and not isinstance(current, bool) else 0.0
        return [base + 0.1, base * 0.5, base + 1.0, 0.5]
    if annotation is str:
        return [f"{current}_x" if isinstance(current, str) else "x"]
    raise AssertionError(f"no candidate values for the type {annotation!r}: teach candidates() it")


def get(tree: dict[str, Any], key: str) -> Any:
    for part in key.split("."):
        tree = (tree or {}).get(part)
    return tree


def put(tree: dict[str, Any], key: str, value: Any) -> None:
    *parents, last = key.split(".")
    for part in parents:
        tree = tree[part]
    tree[last] = value


def preset_value(key: str) -> Any:
    """The value some file under conf/ gives `key` (a sub-model that params.yaml leaves null)."""
    for path in sorted((ROOT / "conf").rglob("*.yaml")):
        found = get(yaml.safe_load(path.read_text(encoding="utf-8")) or {}, key)
        if isinstance(found, dict):
            return found
    raise AssertionError(f"{key} is null in params.yaml and no file under conf/ sets it")


def mutated(base: dict[str, Any], key: str) -> dict[str, Any]:
    """A valid copy of `base` with `key` changed; a null parent is first filled from conf/,
    and a key that needs a partner (model.depth and model.width) gets it filled too."""
    params = copy.deepcopy(base)
    parts = key.split(".")
    for depth in range(2, len(parts)):
        parent = ".".join(parts[:depth])
        if get(params, parent) is None:
            put(params, parent, preset_value(parent))
    current = get(params, key)
    tried = []
    for value in candidates(SCHEMA_KEYS[key], current):
        if value == current:
            continue
        attempt = copy.deepcopy(params)
        put(attempt, key, value)
        for partner in [None, *(k for k in SCHEMA_KEYS if k.rsplit(".", 1)[0] == key.rsplit(".", 1)[0])]:
            if partner is not None and partner != key and get(attempt, partner) is None:
                put(attempt, partner, candidates(SCHEMA_KEYS[partner], None)[0])
            try:
                validate_config(attempt, "mutated params")
                return attempt
            except Exception as err:  # noqa: BLE001 - the next candidate may be valid
                tried.append(f"{value!r}: {err}")
    raise AssertionError(f"{key}: no valid changed value found; tried {tried}")


def declared_stages() -> dict[str, dict[str, Any]]:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]


@pytest.fixture(scope="module")
def dvc_status(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """status(params) -> {stage: [changed param entries]} of `dvc status` in a private folder
    whose dvc.lock was recorded from the project's params.yaml."""
    from dvc.repo import Repo

    folder = tmp_path_factory.mktemp("dvc-params")
    base = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    stages = {name: {"cmd": s["cmd"], "params": s["params"]} for name, s in declared_stages().items()}
    (folder / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}, sort_keys=False))
    lock = {
        name: {"cmd": s["cmd"], "params": {"params.yaml": {key: get(base, key) for key in s["params"]}}}
        for name, s in stages.items()
    }
    (folder / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": lock}, sort_keys=False))
    patch = pytest.MonkeyPatch()
    patch.setenv("DVC_SITE_CACHE_DIR", str(folder.parent / "dvc-site-cache"))  # not /var/tmp/dvc
    patch.setenv("DVC_NO_ANALYTICS", "1")
    repo = Repo.init(str(folder), no_scm=True)

    def status(params: dict[str, Any]) -> dict[str, list[str]]:
        (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        changed: dict[str, list[str]] = {}
        for address, entries in repo.status().items():
            stage = address.rsplit(":", 1)[-1]  # `<path>/dvc.yaml:train` when run from elsewhere
            for entry in entries:
                if isinstance(entry, dict):
                    changed.setdefault(stage, []).extend(entry.get("changed deps", {}).get("params.yaml", {}))
        return changed

    yield base, status
    repo.close()
    patch.undo()


def test_the_schema_walk_finds_every_group_and_nested_key() -> None:
    assert set(GROUPS) == set(Config.model_fields) - {"paths"}
    for key in (
        "dataset.task",
        "dataset.cluster_similarity.gamma",
        "dataset.synthetic.frequency",
        "optimizer.schedule.alpha",
        "training.early_stopping.patience",
        "training.lr_range.max_lr",
    ):
        assert key in SCHEMA_KEYS, key


def test_every_key_changed_alone_reruns_each_stage_that_reads_it_and_only_those(dvc_status: Any) -> None:
    base, status = dvc_status
    assert status(base) == {}, "the lock was recorded from these params"
    wrong = {}
    for key in SCHEMA_KEYS:
        changed = status(mutated(base, key))
        reporting = {
            stage
            for stage, entries in changed.items()
            if any(key == entry or key.startswith(f"{entry}.") for entry in entries)
        }
        expected = READERS[key.split(".")[0]]
        if reporting != expected:
            wrong[key] = {"reported by": sorted(reporting), "read by": sorted(expected)}
    assert not wrong, f"dvc status after changing one key (dvc.yaml's params): {wrong}"


def test_every_dataset_and_split_key_changes_the_prepared_data_fingerprint() -> None:
    base = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    before = validate_config(base, "params.yaml")
    same = []
    for key in SCHEMA_KEYS:
        if key.split(".")[0] not in DATA_GROUPS or key in NOT_DATA:
            continue
        after = validate_config(mutated(base, key), key)
        if data_fingerprint(after.dataset, after.split) == data_fingerprint(before.dataset, before.split):
            same.append(key)
        elif config_fingerprint(after.dataset, after.split) == config_fingerprint(
            before.dataset, before.split
        ):
            same.append(f"{key} (config fingerprint)")
    assert not same, f"keys that leave the prepared data's fingerprint unchanged: {same}"


def groups_read(script: Path) -> set[str]:
    """The config groups a stage's script reads: each `cfg.<group>`, and every group where it
    hands the whole `cfg` on (to `train_and_record`, to `recorded_params`, ...)."""
    tree = ast.parse(script.read_text(encoding="utf-8"))
    read: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "cfg":
            read.add(node.attr)
        if isinstance(node, ast.Call) and any(isinstance(a, ast.Name) and a.id == "cfg" for a in node.args):
            read |= set(Config.model_fields)
    return read & set(Config.model_fields) - {"paths"}


@pytest.mark.parametrize("name", sorted(declared_stages()))
def test_a_stage_declares_whole_groups_covering_what_its_script_reads(name: str) -> None:
    declared = declared_stages()[name]["params"]
    assert all("." not in entry for entry in declared), f"stage {name}: declare whole groups, not {declared}"
    read = groups_read(ROOT / "pipeline" / "stages" / f"{name}.py")
    assert read <= set(declared), f"stage {name} reads {sorted(read - set(declared))} without declaring them"
    assert set(declared) == {group for group, stages in READERS.items() if name in stages}
