"""Execute the lab notebooks (notebooks/*.ipynb) on a real Jupyter kernel, each into HTML.

`python -m pipeline.notebooks [--small] [NAMES...]`, `make notebooks` (small):

    python -m pipeline.notebooks                      # every notebook, at the lesson's size
    python -m pipeline.notebooks --small              # every notebook, tiny (CI, `make notebooks`)
    python -m pipeline.notebooks --small 03_capacity  # one (its file name, with or without .ipynb)

Each notebook runs in a fresh kernel of this environment's Python: the kernel spec
`keras-pipeline`, installed into the environment (`<sys.prefix>/share/jupyter/kernels`, as
`ipykernel install --sys-prefix` does), never into the user's own Jupyter folders. The kernel
starts in the notebook's folder, imports the `pipeline` package this command runs (its root
first on PYTHONPATH: a project copy's notebooks use the copy) and inherits this process's
environment, so `MLFLOW_TRACKING_URI` points the notebooks' runs at another MLflow store (the
tests use a temporary one).

`--small` replaces the values in the notebook's `parameters`-tagged cell by those in that
cell's metadata `small` (e.g. {"EPOCHS": 2, "SEEDS": "1"}); the notebook on disk is unchanged.
The executed notebook is written as HTML to `reports/notebooks/NAME.html` (`--out`), a
failed one too; the kernel's own stderr (TensorFlow's C++ lines) to `NAME.kernel.log` beside it.
One line per notebook: its name, seconds, ok or failed. Exits 1 naming the notebook and the
cell of any error, 2 for an unknown notebook name.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
HTML_DIR = ROOT / "reports" / "notebooks"
KERNEL = "keras-pipeline"
PARAMETERS_TAG = "parameters"
CELL_TIMEOUT_S = 3600


@dataclass(frozen=True)
class Outcome:
    name: str
    seconds: float
    html: Path
    error: str | None  # "cell N: Name: message" of the first failing cell


def kernel_dir() -> Path:
    """The folder of this environment's kernel specs (`ipykernel install --sys-prefix`'s)."""
    return Path(sys.prefix) / "share" / "jupyter" / "kernels"


def ensure_kernel() -> Path:
    """Install the `keras-pipeline` kernel spec into this environment unless it is there and
    runs this Python; return its folder's parent (the kernel specs' folder)."""
    spec = kernel_dir() / KERNEL / "kernel.json"
    if spec.exists():
        try:
            if json.loads(spec.read_text(encoding="utf-8"))["argv"][0] == sys.executable:
                return kernel_dir()
        except (ValueError, KeyError, IndexError):
            pass  # unreadable: written anew below
    from ipykernel.kernelspec import install

    install(kernel_name=KERNEL, display_name="Python (keras pipeline)", prefix=sys.prefix)
    return kernel_dir()


def find_notebooks(names: list[str], folder: Path = NOTEBOOKS) -> list[Path]:
    """The notebooks named (file names, with or without `.ipynb`), or all of `folder` in
    order; an unknown name is a user's error naming the valid ones."""
    from pipeline.core.errors import PipelineError

    available = sorted(folder.glob("*.ipynb"))
    if not available:
        raise PipelineError(f"no notebook (*.ipynb) in {folder}")
    if not names:
        return available
    by_name = {p.stem: p for p in available}
    chosen = []
    for name in names:
        stem = Path(name).name.removesuffix(".ipynb")
        if stem not in by_name:
            raise PipelineError(f"no notebook {name!r} in {folder} (valid: {', '.join(by_name)})")
        chosen.append(by_name[stem])
    return chosen


def parameters_cell(nb) -> int | None:
    """The index of the first cell tagged `parameters`, or None."""
    for index, cell in enumerate(nb.cells):
        if PARAMETERS_TAG in cell.get("metadata", {}).get("tags", []):
            return index
    return None


def with_values(source: str, values: dict[str, object]) -> str:
    """`source` with each top-level `NAME = ...` of `values` assigned its new value (the line's
    comment kept); a name the source does not assign is appended."""
    lines = source.splitlines()
    assigned = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name in values:
                first, last = node.lineno - 1, node.end_lineno - 1
                comment = lines[last][node.end_col_offset :].strip()
                lines[first] = f"{name} = {values[name]!r}" + (f"  {comment}" if comment else "")
                del lines[first + 1 : last + 1]
                assigned.add(name)
    lines += [f"{name} = {value!r}" for name, value in values.items() if name not in assigned]
    return "\n".join(lines)


def shrink(nb) -> None:
    """Set the parameters cell's values to its metadata's `small` ones (tiny runs)."""
    index = parameters_cell(nb)
    if index is None:
        return
    cell = nb.cells[index]
    small = cell.metadata.get("small", {})
    if small:
        cell.source = with_values(cell.source, dict(small)) + "\n# (--small: the small values)"


def first_error(nb) -> str | None:
    """'cell N: Name: message' of the first cell with an error output (N counted from 1)."""
    for number, cell in enumerate(nb.cells, start=1):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return f"cell {number}: {output.get('ename')}: {output.get('evalue')}".splitlines()[0]
    return None


def execute(path: Path, out_dir: Path, small: bool, timeout_s: int) -> Outcome:
    """Run one notebook in a fresh kernel (working folder: the notebook's), write its HTML."""
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    from nbconvert import HTMLExporter

    nb = nbformat.read(path, as_version=4)
    if small:
        shrink(nb)
    specs = KernelSpecManager(kernel_dirs=[str(ensure_kernel())], ensure_native_kernel=False)
    km = KernelManager(kernel_name=KERNEL, kernel_spec_manager=specs)
    client = NotebookClient(nb, km=km, timeout=timeout_s, resources={"metadata": {"path": str(path.parent)}})
    out_dir.mkdir(parents=True, exist_ok=True)
    # the kernel imports this package (the one running here, a project copy's too) first, and
    # the debugger's note on frozen modules is left out
    path_before = os.environ.get("PYTHONPATH")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), *([path_before] if path_before else [])]),
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }
    started = time.perf_counter()
    error = None
    with open(out_dir / f"{path.stem}.kernel.log", "w", encoding="utf-8") as log:
        try:
            client.execute(env=env, stdout=log, stderr=log)
        except CellExecutionError:
            error = first_error(nb) or "a cell failed"
        except CellTimeoutError:
            error = f"a cell ran over {timeout_s} s"
        except DeadKernelError as died:
            error = f"the kernel died ({died}); see {log.name}"
    seconds = time.perf_counter() - started
    if error and not error.startswith("cell ") and client.code_cells_executed:
        error = f"cell {running_cell(nb, client.code_cells_executed)}: {error}"
    html, _ = HTMLExporter().from_notebook_node(nb, resources={"metadata": {"name": path.stem}})
    target = out_dir / f"{path.stem}.html"
    target.write_text(html, encoding="utf-8")
    return Outcome(path.stem, seconds, target, error)


def running_cell(nb, code_cells_executed: int) -> int:
    """The number (from 1, markdown counted) of the `code_cells_executed`-th code cell."""
    seen = 0
    for number, cell in enumerate(nb.cells, start=1):
        if cell.cell_type == "code":
            seen += 1
            if seen == code_cells_executed:
                return number
    return len(nb.cells)


def main(argv: list[str] | None = None) -> None:
    """Run the notebooks asked for; exit status 1 (SystemExit) when any cell failed."""
    parser = argparse.ArgumentParser(prog="python -m pipeline.notebooks", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebooks to run (default: every one in notebooks/)")
    parser.add_argument("--small", action="store_true", help="the parameters cell's small values")
    parser.add_argument("--dir", type=Path, default=NOTEBOOKS, help=f"the notebooks (default {NOTEBOOKS})")
    parser.add_argument("--out", type=Path, default=HTML_DIR, help=f"HTML folder (default {HTML_DIR})")
    parser.add_argument(
        "--cell-timeout", type=int, default=CELL_TIMEOUT_S, help=f"seconds per cell ({CELL_TIMEOUT_S})"
    )
    args = parser.parse_args(argv)
    paths = find_notebooks(args.names, args.dir)
    failed = []
    for path in paths:
        outcome = execute(path, args.out, args.small, args.cell_timeout)
        status = "ok" if outcome.error is None else "failed"
        print(f"{outcome.name:<36} {outcome.seconds:7.1f} s  {status}  {outcome.html}", flush=True)
        if outcome.error:
            failed.append(outcome)
    for outcome in failed:
        print(f"error: notebook {outcome.name}.ipynb, {outcome.error} (see {outcome.html})", file=sys.stderr)
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    from pipeline.core.errors import run_cli

    run_cli(main)
