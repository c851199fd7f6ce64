"""dvc.yaml declares the code each stage runs, so `dvc repro` reruns a stage when it changes.

The rule: a stage's command is `python -m pipeline.stages.<stage>`, and its deps are its own
script `pipeline/stages/<stage>.py`, the layer folders (`pipeline/core`, `pipeline/data`, ...)
of every pipeline module the script imports, directly or not (lazy imports included, found
statically), and its data inputs. (That each layer imports only the layers below it is
tests/unit/test_layers.py's business.)
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "pipeline"


def module_file(module: str) -> Path | None:
    """The source file of a pipeline module (`pipeline.data.raw`), or None if it is not one."""
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(source: Path) -> set[str]:
    """The pipeline modules `source` imports anywhere in its body."""
    package = ".".join(source.relative_to(ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the package `source` is in
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}  # `from pipeline.model import engine`
    return {m for m in found if m.split(".")[0] == "pipeline" and module_file(m) is not None}


def reached_files(script: Path) -> set[Path]:
    """Every pipeline source file `script` runs through its imports, transitively."""
    seen, todo = {script}, [script]
    while todo:
        for module in imported_modules(todo.pop()):
            path = module_file(module)
            assert path is not None
            if path not in seen:
                seen.add(path)
                todo.append(path)
    return seen


def expected_code_deps(script: Path) -> set[str]:
    """The script itself and the layer folders of the other pipeline files it reaches."""
    layers = {
        f"pipeline/{path.relative_to(PACKAGE).parts[0]}"
        for path in reached_files(script) - {script}
        if len(path.relative_to(PACKAGE).parts) > 1  # pipeline/__init__.py is no layer
    }
    return {script.relative_to(ROOT).as_posix()} | layers


def load_stages() -> dict[str, dict[str, Any]]:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]


def entries(items: list[Any] | None) -> list[str]:
    return [next(iter(item)) if isinstance(item, dict) else str(item) for item in items or []]


STAGES = load_stages()


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_deps_are_its_script_its_layers_and_its_data(name: str) -> None:
    stage = STAGES[name]
    assert stage["cmd"].strip() == f"python -m pipeline.stages.{name}", f"stage {name}: {stage['cmd']!r}"
    script = PACKAGE / "stages" / f"{name}.py"
    assert script.is_file(), f"stage {name} runs {script}, which does not exist"

    deps = entries(stage.get("deps"))
    code = {d.rstrip("/") for d in deps if d.startswith("pipeline/")}
    expected = expected_code_deps(script)
    assert code == expected, (
        f"dvc.yaml stage {name!r}: code deps {sorted(code)}, but pipeline.stages.{name} runs "
        f"{sorted(expected)}; missing {sorted(expected - code)}, extra {sorted(code - expected)}"
    )

    # The other deps are data: each one another stage's output (ingest reads only config).
    produced = {out for other in STAGES.values() for out in entries(other.get("outs"))}
    data = [d for d in deps if not d.startswith("pipeline/")]
    assert all(d in produced for d in data), (name, data, sorted(produced))
    if name != "ingest":
        assert data, f"stage {name!r} lists no data input"
