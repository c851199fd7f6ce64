"""What the benchmark scripts share: a temporary project folder, composed configs, the
course's data and jobs, interleaved repeats, subprocesses, and the printed report.

Nothing is written into the project: every `paths.*` key and `tracking.uri` point into the
temporary folder, and so do Hydra's run and sweep folders.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
CONF = ROOT / "conf"
SHARED = Path(os.environ.get("SHARED_DATA_DIR", ROOT.parent / "shared" / "data"))
FACEBOOK_CSV = SHARED / "dataset_Facebook.csv"
EXPERIMENT = "keras-regression"  # conf/tracking/default.yaml
PARENT_TAG = "mlflow.parentRunId"  # a sweep job's run names its parent run
ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}

for _key, _value in ENV.items():
    os.environ.setdefault(_key, _value)
if str(ROOT) not in sys.path:  # `python benchmarks/x.py` puts benchmarks/ first, not the root
    sys.path.insert(0, str(ROOT))


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def fmt(value: Any, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec) if isinstance(value, float) else str(value)


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM), MiB. Not ru_maxrss: a child forked from a
    large process inherits its high-water mark there, even after exec."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Workspace:
    """The temporary project folder: paths, the MLflow store, logs."""

    def __init__(self, tmp: Path) -> None:
        import yaml

        self.tmp = tmp
        self.uri = f"sqlite:///{tmp / 'mlflow.db'}"
        defaults = yaml.safe_load((CONF / "paths" / "default.yaml").read_text(encoding="utf-8"))
        self.paths = {key: tmp / str(value) for key, value in defaults.items()}
        self.overrides = [f"paths.{key}={path}" for key, path in self.paths.items()]
        self.overrides.append(f"tracking.uri={self.uri}")

    def env(self) -> dict[str, str]:
        """A child's environment; the fallback store is a safety net (every job gets tracking.uri)."""
        return dict(os.environ, **ENV, MLFLOW_TRACKING_URI=f"sqlite:///{self.tmp / 'fallback.db'}")

    def lab(self, epochs: int, *extra: str) -> list[str]:
        """Overrides for the lab network on the Facebook data."""
        return ["dataset=facebook", f"dataset.path={FACEBOOK_CSV}", f"training.epochs={epochs}"] + [
            *self.overrides,
            *extra,
        ]

    def run(self, command: list[str], label: str, cwd: Path = ROOT) -> float:
        """Run `command` to its exit (output to `<label>.log`); its wall seconds."""
        log_file = self.tmp / "logs" / f"{label}.log"
        log_file.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        with open(log_file, "w") as log:
            done = subprocess.run(command, cwd=cwd, env=self.env(), stdout=log, stderr=subprocess.STDOUT)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"{label} failed (exit {done.returncode}):\n{log_file.read_text()[-3000:]}")
        return wall

    def create_experiment(self, name: str = EXPERIMENT) -> str:
        """Create the store's schema and the experiment (artifacts in the temporary folder), untimed."""
        import logging

        from mlflow import MlflowClient

        for name_ in ("mlflow.store.db.utils", "alembic"):  # "Creating initial MLflow database tables"
            logging.getLogger(name_).setLevel(logging.WARNING)
        with contextlib.chdir(self.tmp):  # a new store's Default experiment gets ./mlruns
            client = MlflowClient(self.uri)
            found = client.get_experiment_by_name(name)
            if found is not None:
                return str(found.experiment_id)
            folder = self.paths["mlflow_artifacts"] if name == EXPERIMENT else self.tmp / "artifacts" / name
            return str(client.create_experiment(name, artifact_location=folder.as_uri()))

    def runs(self, name: str = EXPERIMENT) -> list[Any]:
        from mlflow import MlflowClient

        client = MlflowClient(self.uri)
        found = client.get_experiment_by_name(name)
        return client.search_runs([found.experiment_id], max_results=5000) if found else []


@contextlib.contextmanager
def workspace(args: argparse.Namespace) -> Iterator[Workspace]:
    tmp = (args.workdir or Path(tempfile.mkdtemp(prefix="keras-bench-"))).resolve()
    tmp.mkdir(parents=True, exist_ok=True)
    print(f"working in {tmp}", flush=True)
    try:
        yield Workspace(tmp)
    finally:
        if not (args.keep or args.workdir):
            shutil.rmtree(tmp, ignore_errors=True)


def compose(overrides: list[str]) -> Any:
    from pipeline.experiments.compose import compose_config

    return compose_config(overrides, config_dir=CONF)


def arrays(cfg: Any) -> tuple[Any, Any, Any, Any]:
    """The prepared train and validation partitions, scaled as the project scales them (float32)."""
    from pipeline.data.cache import ensure_prepared
    from pipeline.data.prepared import design_matrix, load_prepared

    prepared = load_prepared(ensure_prepared(cfg.dataset, cfg.split, cfg.paths))
    x, y = design_matrix(prepared, "train", cfg.training)
    xv, yv = design_matrix(prepared, "validation", cfg.training)
    return x, y, xv, yv


def export_arrays(cfg: Any, path: Path) -> int:
    """Save the prepared arrays for a course process (what its script would read); training rows."""
    import numpy as np

    x, y, xv, yv = arrays(cfg)
    np.savez(path, x=x, y=y, xv=xv, yv=yv)
    return int(x.shape[0])


def course_job(cfg: Any) -> dict[str, Any]:
    """The numbers a course script hard-codes, read from the composed config."""
    opt = cfg.optimizer
    return {
        "units": list(cfg.model.hidden_units),
        "activation": cfg.model.activation,
        "initializer": cfg.model.initializer,
        "optimizer": {k: getattr(opt, k) for k in ("name", "learning_rate", "momentum", "nesterov")},
        "batch_size": cfg.training.batch_size,
        "epochs": cfg.training.epochs,
        "seed": cfg.training.seed,
    }


def course_command(ws: Workspace, data: Path, jobs: list[dict[str, Any]], label: str) -> list[str]:
    """`python benchmarks/course.py SPEC` for these jobs; its result goes to `<label>.json`."""
    spec = {"data": str(data), "jobs": jobs, "result": str(ws.tmp / f"{label}.json")}
    spec_file = ws.tmp / f"{label}-spec.json"
    spec_file.write_text(json.dumps(spec))
    return [sys.executable, str(BENCH / "course.py"), str(spec_file)]


def quietly(call: Callable[[], Any]) -> Any:
    with contextlib.redirect_stdout(io.StringIO()):
        return call()


def interleaved(variants: dict[str, Callable[[], Any]], repeats: int) -> dict[str, list[Any]]:
    """Each variant once per repeat, the order rotated each time (load drifts over minutes,
    and whatever runs right after a long variant finds the caches cold)."""
    names = list(variants)
    out: dict[str, list[Any]] = {name: [] for name in names}
    for rep in range(repeats):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            out[name].append(variants[name]())
            value = out[name][-1]
            seconds = value["seconds"] if isinstance(value, dict) else value
            print(f"  repeat {rep + 1}/{repeats} {name}: {seconds:.2f}s", flush=True)
    return out


def parser(doc: str, repeats: int | None = 3) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    if repeats is not None:
        p.add_argument(
            "--repeats", type=int, default=repeats, help=f"interleaved repeats (default {repeats})"
        )
    p.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    p.add_argument("--workdir", type=Path, help="work (and stay) in this folder instead of a temporary one")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    return p


def loadavg() -> float:
    return round(os.getloadavg()[0], 2)


def environment() -> dict[str, Any]:
    def git(*cmd: str) -> str:
        return subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    return {
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "cpus": os.cpu_count(),
        "load_start": loadavg(),
        "git_commit": git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    }


def report(results: dict[str, Any], lines: list[str], json_path: Path | None) -> None:
    """Print the lines (with the machine's load) and write every figure to `json_path`."""
    env = results.setdefault("environment", {})
    env["load_end"] = loadavg()
    print()
    print("\n".join(lines))
    dirty = " dirty" if env.get("git_dirty") else ""
    load = f"1-min load {env.get('load_start')} -> {env['load_end']} on {env.get('cpus')} CPUs"
    print(f"({load}; git {env.get('git_commit')}{dirty})")
    if json_path:
        json_path.write_text(json.dumps(results, indent=2, default=str) + "\n")
        print(f"wrote {json_path}")
