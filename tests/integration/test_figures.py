"""Every run draws its pictures as real PNGs and logs them on its MLflow run; its learning
curves show the losses it recorded."""

from __future__ import annotations

import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import mlflow
import pytest

from pipeline.experiments.job import LatePictures, run_job
from pipeline.reports import plots

TRAINING = {
    "learning_curves.png",
    "layer_diagnostics.png",
    "distributions.png",  # with diagnostics
    "function_fit.png",
    "unit_activations.png",
}
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


def test_a_run_without_tracking_still_draws_its_pictures(make_config, tmp_path):
    """With MLflow off the pictures are still drawn, and they are there when the run returns."""
    cfg = make_config("training.epochs=2", "tracking.enabled=false")
    report = run_job(cfg, tmp_path / "job")
    assert report["run_id"] is None
    drawn = {p.name for p in (tmp_path / "job" / "figures").glob("*.png")}
    assert drawn >= {"learning_curves.png"} | EVALUATION


class CountingPool(ThreadPoolExecutor):
    """A pool that remembers which pictures it was given to draw."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.figures: list[str] = []
        self.data: dict[str, tuple] = {}  # what each picture was given to draw

    def submit(self, fn, /, *args, **kwargs):
        self.figures.append(args[0])
        self.data[args[0]] = args[1]
        return super().submit(fn, *args, **kwargs)


def test_with_a_pool_every_picture_of_the_run_is_drawn_there_and_logged(
    make_config, tmp_path, isolated_tracking
):
    """The pool is what keeps matplotlib off the training process in a sweep: the training
    pictures go there as well as the evaluation ones, and the run still logs them all."""
    cfg = make_config("dataset=synthetic", "model.hidden_units=[8,8]", "training.diagnostics=true")
    with CountingPool() as pool:
        report = run_job(cfg, tmp_path / "job", pool=pool)
    assert sorted(pool.figures) == sorted(
        [
            "learning_curves",
            "layer_diagnostics",
            "layer_distributions",
            "function_fit",
            "unit_activations",
            "predicted_vs_actual",
            "residuals",
        ]
    )
    client = mlflow.MlflowClient(isolated_tracking)
    logged = {a.path for a in client.list_artifacts(report["run_id"], "figures")}
    assert logged == {f"figures/{name}" for name in TRAINING | EVALUATION}
    # the learning curves show the losses the run recorded, epoch by epoch
    curves = plots.learning_curves_figure(*pool.data["learning_curves"][:1]).axes[0]
    drawn = {line.get_label(): list(line.get_ydata()) for line in curves.get_lines()}
    recorded = sorted(client.get_metric_history(report["run_id"], "val_loss"), key=lambda m: m.step)
    assert drawn["validation loss"] == pytest.approx([m.value for m in recorded])


def test_a_diverged_run_in_a_pool_still_logs_its_learning_curves(make_config, tmp_path, isolated_tracking):
    """Evaluation stops early for a diverged run; the curves drawn in the pool are still
    waited for and logged, so the run shows how it blew up."""
    cfg = make_config("optimizer=sgd", "optimizer.learning_rate=1e6", "training.epochs=3")
    with CountingPool() as pool:
        report = run_job(cfg, tmp_path / "job", pool=pool)
    assert report["status"] == "diverged"
    assert "learning_curves" in pool.figures
    client = mlflow.MlflowClient(isolated_tracking)
    assert client.get_run(report["run_id"]).info.status == "FAILED"
    logged = {a.path for a in client.list_artifacts(report["run_id"], "figures")}
    assert "figures/learning_curves.png" in logged, logged


class GatedPool(ThreadPoolExecutor):
    """A pool that draws nothing until `gate` is set (or a minute has passed)."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.gate = threading.Event()

    def submit(self, fn, /, *args, **kwargs):
        def held():
            self.gate.wait(timeout=60)
            return fn(*args, **kwargs)

        return super().submit(held)


def test_a_sweeps_job_ends_before_its_pictures_and_they_reach_its_run_at_the_sweeps_end(
    make_config, tmp_path, isolated_tracking
):
    """In a sweep the next job does not wait for this one's pictures: the job returns with its
    run ended and everything else recorded, and `LatePictures.log()` (the sweep's end) adds
    the pictures to it."""
    cfg = make_config("dataset=synthetic", "model.hidden_units=[8,8]", "training.diagnostics=true")
    late = LatePictures()
    client = mlflow.MlflowClient(isolated_tracking)
    with GatedPool() as pool:
        started = time.perf_counter()
        report = run_job(cfg, tmp_path / "job", pool=pool, late=late)
        assert time.perf_counter() - started < 50  # it did not wait for the gate
        run = client.get_run(report["run_id"])
        assert run.info.status == "FINISHED" and "model_uri" in run.data.tags
        assert "validation_mse_scaled" in run.data.metrics
        assert client.list_artifacts(report["run_id"], "figures") == []
        pool.gate.set()
        assert late.log() == len(TRAINING | EVALUATION)
    logged = {a.path for a in client.list_artifacts(report["run_id"], "figures")}
    assert logged == {f"figures/{name}" for name in TRAINING | EVALUATION}
    assert {p.name for p in (tmp_path / "job" / "figures").glob("*.png")} == TRAINING | EVALUATION
