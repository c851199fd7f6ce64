"""The lab notebooks (notebooks/*.ipynb) are committed clean and runnable by the runner:
no outputs, no execution counts, a `parameters` cell whose small values it assigns, and they
go through `pipeline.api`. Also the runner's rewriting of that cell (pipeline/notebooks.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

from pipeline.notebooks import find_notebooks, first_error, parameters_cell, shrink, with_values

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
EXPECTED = {
    "01_facebook_lab",
    "02_learning_rates_early_stopping",
    "03_capacity",
    "04_regularization",
    "05_classifiers",
    "06_initialization_depth",
}


def test_the_labs_are_there() -> None:
    assert EXPECTED <= {path.stem for path in NOTEBOOKS}


def dirty_cells(nb: nbformat.NotebookNode) -> list[int]:
    """The numbers (from 1) of the code cells with outputs or an execution count."""
    return [
        number
        for number, cell in enumerate(nb.cells, start=1)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_notebook_is_committed_without_outputs_or_execution_counts(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = dirty_cells(nb)
    assert dirty == [], f"{path.name}: cells {dirty} have outputs or an execution count (clear them)"


def test_the_check_catches_an_executed_notebook(tmp_path: Path) -> None:
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    code = [n for n, c in enumerate(nb.cells, start=1) if c.cell_type == "code"]
    nb.cells[code[0] - 1].execution_count = 1
    nb.cells[code[1] - 1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi")]
    nbformat.write(nb, tmp_path / "run.ipynb")
    assert dirty_cells(nbformat.read(tmp_path / "run.ipynb", as_version=4)) == code[:2]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_notebook_has_a_parameters_cell_with_small_values_and_uses_the_api(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    index = parameters_cell(nb)
    assert index is not None, f"{path.name}: no cell tagged `parameters`"
    cell = nb.cells[index]
    assigned = {
        node.targets[0].id
        for node in ast.parse(cell.source).body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }
    small = dict(cell.metadata.get("small", {}))
    assert small and set(small) <= assigned, f"{path.name}: `small` {small} against {assigned}"
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "from pipeline import api" in code
    assert "api.sweep(" in code or "api.run(" in code
    assert nb.cells[-1].cell_type == "markdown" and "make ui" in nb.cells[-1].source
    for c in nb.cells:  # every code cell parses (IPython's magics aside: none are used)
        if c.cell_type == "code":
            ast.parse(c.source)


def test_small_replaces_the_parameters_values_and_keeps_comments() -> None:
    source = 'EPOCHS = 100  # the lab\'s\nSEEDS = (\n    "1,2,3"\n)\nOTHER = 1'
    assert with_values(source, {"EPOCHS": 2, "SEEDS": "1"}) == (
        "EPOCHS = 2  # the lab's\nSEEDS = '1'\nOTHER = 1"
    )
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# x"),
            nbformat.v4.new_code_cell(
                "EPOCHS = 100", metadata={"tags": ["parameters"], "small": {"EPOCHS": 3}}
            ),
        ]
    )
    shrink(nb)
    namespace: dict[str, object] = {}
    exec(nb.cells[1].source, namespace)  # noqa: S102 - the rewritten cell runs
    assert namespace["EPOCHS"] == 3


def test_the_first_failing_cell_is_named_from_its_error_output() -> None:
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# x"),
            nbformat.v4.new_code_cell("1", outputs=[]),
            nbformat.v4.new_code_cell(
                "1/0",
                outputs=[
                    nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="division by zero")
                ],
            ),
        ]
    )
    assert first_error(nb) == "cell 3: ZeroDivisionError: division by zero"


def test_an_unknown_notebook_name_is_one_error_naming_the_valid_ones() -> None:
    from pipeline.core.errors import PipelineError

    assert [p.stem for p in find_notebooks(["03_capacity.ipynb"])] == ["03_capacity"]
    with pytest.raises(PipelineError, match="valid: 01_facebook_lab, 02_"):
        find_notebooks(["capacity"])
