"""dvc.yaml declares the code each stage runs, so `dvc repro` reruns a stage when it changes.

Each stage's command is `python -m pipeline.<stage>`. Every pipeline module it imports
(directly or not, found statically) must be a dependency of the stage, except
- plumbing that computes nothing: config, errors, io, heap (garbage-collector settings);
- modules already listed by an upstream stage (the stage sees their effect through the
  upstream outputs, or borrows a constant from them).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "pipeline"
PLUMBING = {"config", "errors", "heap", "io"}


def pipeline_imports(module: str) -> set[str]:
    """The pipeline modules `module` imports anywhere in its source (lazy imports included)."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("pipeline.")}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "pipeline":
                found |= {a.name for a in node.names if (PACKAGE / f"{a.name}.py").is_file()}
            elif node.module.startswith("pipeline."):
                found.add(node.module.split(".")[1])
    return {m for m in found if (PACKAGE / f"{m}.py").is_file()}


def transitive_imports(module: str) -> set[str]:
    seen, todo = {module}, [module]
    while todo:
        for dep in pipeline_imports(todo.pop()) - seen:
            seen.add(dep)
            todo.append(dep)
    return seen


def load_stages() -> dict[str, dict[str, Any]]:
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    text = re.sub(
        r"\$\{paths\.(\w+)\}",
        lambda m: str(params["paths"][m.group(1)]),
        (ROOT / "dvc.yaml").read_text(encoding="utf-8"),
    )
    return yaml.safe_load(text)["stages"]


def entries(items: list[Any]) -> list[str]:
    return [next(iter(item)) if isinstance(item, dict) else str(item) for item in items or []]


def code_deps(stage: dict[str, Any]) -> set[str]:
    deps = entries(stage.get("deps", []))
    return {Path(d).stem for d in deps if d.startswith("pipeline/") and d.endswith(".py")}


def upstream(stages: dict[str, dict[str, Any]], name: str) -> set[str]:
    """Stages whose outputs `name` depends on, transitively."""
    outs = {s: set(entries(v.get("outs", [])) + entries(v.get("metrics", []))) for s, v in stages.items()}
    found, todo = set(), [name]
    while todo:
        deps = set(entries(stages[todo.pop()].get("deps", [])))
        for other, produced in outs.items():
            if other not in found and deps & produced:
                found.add(other)
                todo.append(other)
    return found


STAGES = load_stages()


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_depends_on_the_code_it_runs(name: str) -> None:
    stage = STAGES[name]
    match = re.fullmatch(r"python -m pipeline\.(\w+)", stage["cmd"].strip())
    assert match, f"stage {name}: unexpected cmd {stage['cmd']!r}"
    module = match.group(1)
    inherited = set().union(*(code_deps(STAGES[s]) for s in upstream(STAGES, name)))
    needed = transitive_imports(module) - PLUMBING - inherited
    missing = sorted(needed - code_deps(stage))
    assert not missing, (
        f"dvc.yaml stage {name!r} runs pipeline.{module}, which uses "
        f"{', '.join(f'pipeline/{m}.py' for m in missing)}, but does not list "
        "it under deps: a change there leaves `dvc repro` reporting the stage up to date"
    )
