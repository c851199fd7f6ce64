"""Every lab notebook executes headless (`python -m pipeline.notebooks --small`, a real
ipykernel) in a copy of the project, recording into the copy's temporary MLflow store
($MLFLOW_TRACKING_URI, which the kernel inherits); a cell error fails the test with the
runner's line naming the notebook and the cell."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
# one parent run per api.sweep call in the notebooks
SWEEPS = {
    "01_facebook_lab": ("target_scaling", "initializers", "optimizers"),
    "02_learning_rates_early_stopping": ("learning_rates", "early_stopping"),
    "03_capacity": ("capacity_width", "capacity_depth"),
    "04_regularization": ("regularization",),
    "05_classifiers": ("digits_mlp", "penalized_classifier"),
    "06_initialization_depth": ("signal_propagation",),
}


@pytest.mark.slow
def test_every_notebook_runs_small_into_a_temporary_store(
    project: Any, tmp_path: Path, facebook_csv: Path
) -> None:
    shutil.copytree(ROOT / "notebooks", project.path / "notebooks")
    # the Facebook lab finds the data at ../shared/data beside the project, as in a clone
    shared = project.path.parent / "shared"
    shared.mkdir(exist_ok=True)
    (shared / "data").symlink_to(facebook_csv.parent.resolve(), target_is_directory=True)
    html = tmp_path / "html"
    done = project.run("python", "-m", "pipeline.notebooks", "--small", "--out", str(html), check=False)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr[-4000:]}"
    lines = done.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == NOTEBOOKS
    assert all(re.search(r"\d+\.\d s  ok  ", line) for line in lines), lines
    for name in NOTEBOOKS:
        page = (html / f"{name}.html").read_text(encoding="utf-8")
        assert 'class="jp-RenderedImage' in page, f"{name}: no picture among its outputs"
    names = [r.info.run_name for r in project.runs()]
    for notebook, sweeps in SWEEPS.items():
        for sweep in sweeps:  # its parent run, named <preset>-<time>, in the temporary store
            assert any(n.startswith(f"{sweep}-") for n in names), f"{notebook}: no {sweep} sweep in {names}"
    assert not list((ROOT / "notebooks").glob("*.html"))  # nothing written beside the sources
