"""The package's layers: each imports only its own layer and the layers below it, with no
import cycles between modules and no module over 300 lines.

    core < data < model < tracking < reports < steps < experiments < stages < entry aliases

The steps (train-and-record, evaluate-and-record) are the library the DVC stages and the
experiments share; the stages are thin DVC entry points, so the experiments never import
them. The entry aliases are the top-level modules `python -m pipeline.run | compare | compose |
upload | lessons | notebooks`, `pipeline.api` (the Python API) and `pipeline/__init__.py`. Imports are read
with `ast` from the source, so lazy imports inside functions count as much as those at the
top. `import pipeline` (the root package, which every import of a submodule runs first
anyway) may come from anywhere, and so the root `__init__.py` must import nothing of the
package.
"""

from __future__ import annotations

import ast
import graphlib
import shutil
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "pipeline"
ROOT_PACKAGE = "pipeline"
LAYERS = ("core", "data", "model", "tracking", "reports", "steps", "experiments", "stages")
ENTRY = len(LAYERS)  # above every layer
ENTRY_MODULES = {
    "pipeline",
    "pipeline.run",
    "pipeline.compare",
    "pipeline.compose",
    "pipeline.upload",
    "pipeline.lessons",
    "pipeline.api",
    "pipeline.notebooks",  # `python -m pipeline.notebooks` (make notebooks)
}
MAX_LINES = 300


def module_files(package: Path) -> dict[str, Path]:
    """{dotted module name: source file} of every module under `package` (a package's
    `__init__.py` under the package's own name)."""
    modules = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def layer_of(module: str) -> int | None:
    """The layer's rank (core 0 ... stages 7, the entry aliases 8); None for a module
    in no layer."""
    if module in ENTRY_MODULES:
        return ENTRY
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def imported(module: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that `module` imports anywhere in its source; a name that is
    no module of the package comes back as it was written, to be reported."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == ROOT_PACKAGE}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: counted from the importing module's package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            if base.split(".")[0] != ROOT_PACKAGE:
                continue
            for alias in node.names:  # `from pipeline.model import engine`: the submodule
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return found - {module}


def import_graph(package: Path) -> dict[str, set[str]]:
    modules = module_files(package)
    return {name: imported(name, path, set(modules)) for name, path in modules.items()}


def layer_violations(package: Path) -> list[str]:
    """Every import that goes up a layer, or to no module of the package; every module in
    no layer."""
    graph = import_graph(package)
    problems = [f"{m}: in no layer (one of {', '.join(LAYERS)})" for m in graph if layer_of(m) is None]
    for module, targets in sorted(graph.items()):
        rank = layer_of(module)
        for target in sorted(targets):
            if target not in graph:
                problems.append(f"{module} imports {target}, which is no module of the package")
            elif target == ROOT_PACKAGE:
                continue
            elif rank is not None and (layer_of(target) or 0) > rank:
                problems.append(f"{module} imports {target}, a higher layer")
    if graph.get(ROOT_PACKAGE):
        problems.append(f"pipeline/__init__.py imports {sorted(graph[ROOT_PACKAGE])}: every import runs it")
    return problems


def import_cycle(package: Path) -> list[str] | None:
    """One import cycle between the package's modules (a, b, ..., a), or None."""
    graph = import_graph(package)
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as cycle:
        return list(reversed(cycle.args[1]))
    return None


def long_modules(package: Path, limit: int = MAX_LINES) -> dict[str, int]:
    sizes = {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in module_files(package).items()}
    return {module: lines for module, lines in sizes.items() if lines > limit}


def test_the_package_has_its_layers_and_entry_aliases() -> None:
    modules = module_files(PACKAGE)
    assert {f"pipeline.{layer}" for layer in LAYERS} <= set(modules)
    assert ENTRY_MODULES <= set(modules)


def test_every_import_goes_to_the_same_or_a_lower_layer() -> None:
    assert layer_violations(PACKAGE) == []


def test_no_import_cycles_between_modules() -> None:
    assert import_cycle(PACKAGE) is None


def test_no_module_is_over_300_lines() -> None:
    assert long_modules(PACKAGE) == {}


def test_the_rules_catch_lazy_upward_imports_cycles_and_long_modules(tmp_path: Path) -> None:
    """The same checks on a scratch copy of the package with each rule broken once."""
    copy = tmp_path / "pipeline"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = set(layer_violations(copy))

    def new_violations() -> set[str]:
        return set(layer_violations(copy)) - before

    io = copy / "core" / "io.py"
    io.write_text(io.read_text() + "\n\ndef later():\n    from pipeline.model import engine\n")
    assert new_violations() == {"pipeline.core.io imports pipeline.model.engine, a higher layer"}

    io.write_text(io.read_text() + "    from pipeline.recorder import RunRecorder  # removed\n")
    assert "pipeline.core.io imports pipeline.recorder, which is no module of the package" in new_violations()

    (copy / "helpers").mkdir()
    (copy / "helpers" / "__init__.py").write_text("")
    assert any(p.startswith("pipeline.helpers: in no layer") for p in new_violations())

    (copy / "__init__.py").write_text("from pipeline.core import io\n")
    assert any(p.startswith("pipeline/__init__.py imports") for p in new_violations())

    errors = copy / "core" / "errors.py"
    errors.write_text(errors.read_text() + "\nfrom pipeline.core.config import Config\n")
    cycle = import_cycle(copy)
    assert cycle is not None and cycle[0] == cycle[-1]
    assert {"pipeline.core.config", "pipeline.core.errors"} <= set(cycle)

    (copy / "core" / "files.py").write_text("X = 1\n" * (MAX_LINES + 1))
    assert long_modules(copy)["pipeline.core.files"] == MAX_LINES + 1


@pytest.mark.parametrize(
    ("module", "rank"),
    [
        ("pipeline.core.config", 0),
        ("pipeline.data", 1),
        ("pipeline.experiments.run", 6),
        ("pipeline.stages.train", 7),
        ("pipeline.steps.train", 5),
        ("pipeline.run", ENTRY),
        ("pipeline", ENTRY),
        ("pipeline.helpers.x", None),
    ],
)
def test_layer_of(module: str, rank: int | None) -> None:
    assert layer_of(module) == rank
