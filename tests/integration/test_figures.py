"""Every run draws its pictures as real PNGs and logs them on its MLflow run."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import mlflow

from pipeline.run import run_job

ROOT = Path(__file__).resolve().parents[2]
TRAINING = {"learning_curves.png", "layer_diagnostics.png", "function_fit.png", "unit_activations.png"}
EVALUATION = {"predicted_vs_actual.png", "residuals.png"}


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG header; fails unless the file is a PNG."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    return struct.unpack(">II", head[16:24])


def test_a_one_input_run_draws_every_picture(make_config, tmp_path, isolated_tracking):
    cfg = make_config("dataset=synthetic", "model.hidden_units=[8,8]", "training.diagnostics=true")
    report = run_job(cfg, tmp_path / "job")
    figures = tmp_path / "job" / "figures"
    assert {p.name for p in figures.glob("*.png")} == TRAINING | EVALUATION
    for png in figures.glob("*.png"):
        width, height = png_size(png)
        assert 400 <= width <= 2000 and 300 <= height <= 2000, (png.name, width, height)
        assert png.stat().st_size > 10_000, f"{png.name} looks empty"
    client = mlflow.MlflowClient(isolated_tracking)
    logged = {a.path for a in client.list_artifacts(report["run_id"], "figures")}
    assert logged == {f"figures/{name}" for name in TRAINING | EVALUATION}


def test_a_many_input_run_has_no_function_view(make_config, tmp_path):
    cfg = make_config("training.diagnostics=false")
    run_job(cfg, tmp_path / "job")
    names = {p.name for p in (tmp_path / "job" / "figures").glob("*.png")}
    assert names == {"learning_curves.png"} | EVALUATION  # no diagnostics, no 1-D view


def test_the_training_process_leaves_drawing_to_its_helper(path_overrides, tmp_path):
    """The pictures are drawn by the drawing helper: the process that trains never draws
    (matplotlib's renderer is never loaded: its memory and its time; Keras imports pyplot
    itself), and the pictures are there when the run returns."""
    script = f"""
import sys
from pathlib import Path
from pipeline.compose import compose_config
from pipeline.run import run_job
cfg = compose_config({[*path_overrides, "training.epochs=2", "tracking.enabled=false"]!r})
run_job(cfg, Path({str(tmp_path / "job")!r}))
print("drew here:", "matplotlib.backends.backend_agg" in sys.modules)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "drew here: False" in done.stdout
    drawn = {p.name for p in (tmp_path / "job" / "figures").glob("*.png")}
    assert drawn >= {"learning_curves.png"} | EVALUATION
