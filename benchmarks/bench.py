"""Benchmark: the course's plain Keras script against the tracked pipeline, on the same data.

    .venv/bin/python benchmarks/bench.py                 # everything (minutes)
    .venv/bin/python benchmarks/bench.py --quick         # CI smoke run: 1 repeat, short sweep, no 1M set
    .venv/bin/python benchmarks/bench.py --only a,b,c --repeats 5 --json bench.json

Sections (`--only` takes a comma-separated list of these names):

  imports   cold `import` times in fresh interpreters (TensorFlow, Keras, MLflow, the pipeline)
  a         the course's way: Sequential + model.fit(validation_data=...), no tracking
  b         the project: run_job(cfg, out_dir) with full MLflow recording (model logged)
  c         the project with tracking.enabled=false
  d         the course's way under mlflow.keras.autolog(log_models=True)
  logmodel  b with tracking.log_model=false, and the model-logging call timed alone
  sweep     12 course-style fits vs `python -m pipeline.run -m ...` (3 initializers x 4 optimizers)
  housing   rows/s and peak RSS on California housing (course fit and project, a subprocess each)
  1m        the same on a synthetic CSV of --big-rows rows (skipped by --quick unless named), peak
            memory in copies of the data, and training time at a quarter of the rows and at
            twice the epochs (is the cost linear in rows x epochs?)
  dvc       `dvc repro` with nothing changed, in a temporary copy of the project

Everything is written into a temporary folder (every `paths.*` key and `tracking.uri` are
overridden, MLflow experiments are created there with their artifact location there, Hydra's
output folders point there); nothing in the project folder is written.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
SHARED = Path(os.environ.get("SHARED_DATA_DIR", ROOT.parent / "shared" / "data"))
FACEBOOK_CSV = SHARED / "dataset_Facebook.csv"
HOUSING_CSV = SHARED / "housing.csv"

ALL_SECTIONS = ("imports", "a", "b", "c", "d", "logmodel", "sweep", "housing", "1m", "dvc")
COMPARE = ("a", "b", "c", "d", "logmodel")
INITIALIZERS = ("he_normal", "glorot_uniform", "lecun_normal")
OPTIMIZERS = ("sgd", "adam", "rmsprop", "momentum")
EXPERIMENT = "keras-regression"  # conf/tracking: the project's experiment name
AUTOLOG_EXPERIMENT = "course-autolog"

if str(ROOT) not in sys.path:  # `python benchmarks/bench.py` puts benchmarks/ first, not the root
    sys.path.insert(0, str(ROOT))

ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
for _key, _value in ENV.items():
    os.environ.setdefault(_key, _value)


# --------------------------------------------------------------------------- helpers


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def maxrss_mb() -> float:
    """Peak resident memory of this process, in MiB.

    VmHWM, not getrusage's ru_maxrss: a child forked from this (large) benchmark process
    inherits the parent's high-water mark in ru_maxrss, even after exec.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def path_overrides(tmp: Path) -> list[str]:
    """Every `paths.<key>` (conf/paths/default.yaml's and the schema's), relocated under `tmp`."""
    import yaml

    from pipeline.config import PathsConfig

    defaults = yaml.safe_load((CONF / "paths" / "default.yaml").read_text(encoding="utf-8")) or {}
    keys = list(defaults) + [k for k in PathsConfig.model_fields if k not in defaults]
    return [f"paths.{key}={tmp / str(defaults.get(key, key))}" for key in keys]


def compose(overrides: list[str]) -> Any:
    from pipeline.compose import compose_config

    return compose_config(overrides, config_dir=CONF)


def ensure_experiment(uri: str, name: str, artifacts: Path) -> str:
    """Create the experiment with its artifact location in the temp folder (else ./mlruns of cwd)."""
    from mlflow import MlflowClient

    artifacts.mkdir(parents=True, exist_ok=True)
    # A new store's "Default" experiment gets ./mlruns of the current folder: make that the temp one.
    with contextlib.chdir(artifacts.parent):
        client = MlflowClient(uri)
        found = client.get_experiment_by_name(name)
        if found is not None:
            return str(found.experiment_id)
        return str(client.create_experiment(name, artifact_location=artifacts.as_uri()))


def arrays(cfg: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
    """The project's prepared partitions, scaled as the project scales them (float32)."""
    from pipeline.data import design_matrix, load_prepared
    from pipeline.prepare import ensure_prepared

    prepared = load_prepared(ensure_prepared(cfg))
    x, y = design_matrix(prepared, "train", cfg.training)
    xv, yv = design_matrix(prepared, "validation", cfg.training)
    return x, y, xv, yv, dict(prepared.manifest.get("rows", {}))


def table_mb(prepared_dir: Path) -> float:
    """MiB of the whole prepared table (every partition, inputs and target) as float64: the
    unit in which the throughput report counts copies of the data."""
    from pipeline.io import read_json
    from pipeline.normalize import SCHEMA_FILE
    from pipeline.split import MANIFEST_FILE

    rows = sum(read_json(prepared_dir / MANIFEST_FILE)["rows"].values())
    columns = len(read_json(prepared_dir / SCHEMA_FILE)["encoded_features"]) + 1
    return rows * columns * 8 / 2**20


def course_optimizer(opt: Any) -> Any:
    """What a course script writes for the configured optimizer (no schedules)."""
    import keras

    if opt.name in ("sgd", "momentum"):
        return keras.optimizers.SGD(opt.learning_rate, momentum=opt.momentum, nesterov=opt.nesterov)
    if opt.name == "rmsprop":
        return keras.optimizers.RMSprop(opt.learning_rate, momentum=opt.momentum)
    return getattr(keras.optimizers, {"adam": "Adam", "adamw": "AdamW", "nadam": "Nadam"}[opt.name])(
        opt.learning_rate
    )


def course_fit(cfg: Any, x: Any, y: Any, xv: Any, yv: Any) -> tuple[float, dict[str, list[float]]]:
    """The course's way, timed from building the network to the end of fit."""
    import keras

    started = time.perf_counter()
    keras.utils.set_random_seed(cfg.training.seed)
    layers: list[Any] = [keras.Input(shape=(x.shape[1],))]
    for units in cfg.model.hidden_units:
        layers.append(
            keras.layers.Dense(
                units, activation=cfg.model.activation, kernel_initializer=cfg.model.initializer
            )
        )
    layers.append(keras.layers.Dense(1, kernel_initializer=cfg.model.initializer))
    model = keras.Sequential(layers)
    model.compile(optimizer=course_optimizer(cfg.optimizer), loss="mse", metrics=["mse"])
    history = model.fit(
        x,
        y,
        batch_size=cfg.training.batch_size,
        epochs=cfg.training.epochs,
        validation_data=(xv, yv),
        verbose=0,
    )
    return time.perf_counter() - started, history.history


def project_run(cfg: Any, out_dir: Path) -> dict[str, Any]:
    """run_job timed end to end, with the training time it reports."""
    from pipeline.run import run_job

    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        report = run_job(cfg, out_dir)
    return {
        "seconds": time.perf_counter() - started,
        "train_seconds_printed": report.get("training_time_s"),
        "epochs_run": report.get("epochs_run"),
        "status": report.get("status"),
        "val_mse": report.get("validation", {}).get("scaled", {}).get("mse"),
    }


def clear_keras() -> None:
    import keras

    keras.utils.clear_session(free_memory=True)


def loadavg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


# --------------------------------------------------------------------------- workers (subprocesses)


def worker(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """One measurement in a fresh interpreter; its peak RSS is its own."""
    t0 = time.perf_counter()
    import keras  # noqa: F401

    # what a run imports (pipeline.run imports these inside run_job): memory above this
    # baseline is the run's, not its modules'
    import pipeline.crossval  # noqa: F401
    import pipeline.evaluate  # noqa: F401
    import pipeline.prepare  # noqa: F401
    import pipeline.run  # noqa: F401
    import pipeline.train  # noqa: F401

    out: dict[str, Any] = {"import_seconds": time.perf_counter() - t0, "rss_after_imports_mb": maxrss_mb()}
    cfg = compose(spec["overrides"])
    if kind == "prepare":
        from pipeline.prepare import ensure_prepared

        started = time.perf_counter()
        directory = ensure_prepared(cfg)
        out["seconds"] = time.perf_counter() - started
        out["directory"] = str(directory)
    elif kind == "course":
        x, y, xv, yv, rows = arrays(cfg)
        out["rss_after_data_mb"] = maxrss_mb()
        seconds, history = course_fit(cfg, x, y, xv, yv)
        out |= {"seconds": seconds, "train_rows": int(x.shape[0]), "epochs": len(history["loss"])}
        out["val_mse"] = float(history["val_mse"][-1])
    elif kind == "project":
        from pipeline.io import read_json
        from pipeline.prepare import ensure_prepared
        from pipeline.split import MANIFEST_FILE

        rows = read_json(ensure_prepared(cfg) / MANIFEST_FILE)["rows"]  # cheap: no data loaded
        out |= project_run(cfg, Path(spec["out_dir"]))
        out |= {"train_rows": int(rows["train"]), "epochs": out["epochs_run"] or cfg.training.epochs}
        out["table_mb"] = table_mb(ensure_prepared(cfg))
    elif kind == "course-sweep":
        started = time.perf_counter()
        job_cfgs = [compose(overrides) for overrides in spec["jobs"]]
        x, y, xv, yv, _ = arrays(cfg)  # a course script loads the data once; the jobs share it
        out["setup_seconds"] = time.perf_counter() - started
        fits = []
        for job_cfg in job_cfgs:
            seconds, history = course_fit(job_cfg, x, y, xv, yv)
            fits.append({"seconds": seconds, "val_mse": float(history["val_mse"][-1])})
            clear_keras()
        out |= {"fits": fits, "seconds": sum(f["seconds"] for f in fits)}
    else:
        raise SystemExit(f"bench: unknown worker {kind!r}")
    out["peak_rss_mb"] = maxrss_mb()
    return out


def run_worker(kind: str, spec: dict[str, Any], tmp: Path, label: str) -> dict[str, Any]:
    result_file = tmp / f"worker-{label}.json"
    log_file = tmp / f"worker-{label}.log"
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--spec", json.dumps(spec)]
    command += ["--result", str(result_file)]
    started = time.perf_counter()
    with open(log_file, "w") as log:
        done = subprocess.run(command, cwd=ROOT, env=child_env(tmp), stdout=log, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        tail = log_file.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"worker {label} failed (exit {done.returncode}):\n{tail}")
    result = json.loads(result_file.read_text())
    result["wall_seconds"] = wall
    return result


def child_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ, **ENV)
    # a safety net only: every job also gets an explicit tracking.uri override
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp / 'mlflow-fallback.db'}"
    return env


# --------------------------------------------------------------------------- sections


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path, sections: list[str]) -> None:
        self.args, self.tmp, self.sections = args, tmp, sections
        self.results: dict[str, Any] = {}
        self.uri = f"sqlite:///{tmp / 'mlflow.db'}"
        self.paths = path_overrides(tmp)

    def lab_overrides(self, epochs: int, *extra: str) -> list[str]:
        return [
            "dataset=facebook",
            f"dataset.path={FACEBOOK_CSV}",
            f"training.epochs={epochs}",
            *self.paths,
            f"tracking.uri={self.uri}",
            *extra,
        ]

    # -- imports
    def imports(self) -> None:
        snippets = {
            "python": "pass",
            "numpy+pandas": "import numpy, pandas",
            "tensorflow": "import tensorflow",
            "keras": "import keras",
            "mlflow": "import mlflow",
            "pipeline.train (+tf, keras, mlflow)": "import pipeline.train",
            "mlflow.pyfunc+keras": "import mlflow.pyfunc, mlflow.keras",
        }
        out = {}
        for name, code in snippets.items():
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-c", code],
                cwd=ROOT,
                env=child_env(self.tmp),
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            out[name] = time.perf_counter() - started
        self.results["imports_cold_subprocess_s"] = out

    # -- a, b, c, d, logmodel
    def compare(self) -> None:
        wanted = [s for s in COMPARE if s in self.sections]
        epochs = self.args.epochs
        cfgs = {
            "a": compose(self.lab_overrides(epochs, "tracking.enabled=false")),
            "b": compose(self.lab_overrides(epochs)),
            "c": compose(self.lab_overrides(epochs, "tracking.enabled=false")),
            "d": compose(self.lab_overrides(epochs, "tracking.enabled=false")),
            "logmodel": compose(self.lab_overrides(epochs, "tracking.log_model=false")),
        }
        lab = cfgs["a"]
        started = time.perf_counter()
        x, y, xv, yv, rows = arrays(lab)  # prepares the data into the temp cache once
        prepare_s = time.perf_counter() - started
        config = {
            "dataset": lab.dataset.name,
            "inputs": int(x.shape[1]),
            "rows": rows,
            "hidden_units": list(lab.model.hidden_units),
            "activation": lab.model.activation,
            "initializer": lab.model.initializer,
            "optimizer": lab.optimizer.name,
            "learning_rate": lab.optimizer.learning_rate,
            "batch_size": lab.training.batch_size,
            "epochs": epochs,
            "scale_target": lab.training.scale_target,
            "early_stopping": lab.training.early_stopping.enabled,
        }
        self.results["lab_config"] = config
        self.results["lab_prepare_first_s"] = prepare_s
        experiment = ensure_experiment(self.uri, EXPERIMENT, self.tmp / "artifacts" / "project")
        autolog_experiment = ensure_experiment(
            self.uri, AUTOLOG_EXPERIMENT, self.tmp / "artifacts" / "autolog"
        )

        def one(name: str, cfg: Any, label: str) -> dict[str, Any]:
            clear_keras()
            if name == "a":
                seconds, history = course_fit(cfg, x, y, xv, yv)
                return {"seconds": seconds, "val_mse": float(history["val_mse"][-1])}
            if name == "d":
                import mlflow
                import mlflow.keras

                mlflow.set_tracking_uri(self.uri)
                mlflow.keras.autolog(log_models=True, silent=True)
                try:
                    started = time.perf_counter()
                    with mlflow.start_run(experiment_id=autolog_experiment):
                        _, history = course_fit(cfg, x, y, xv, yv)
                    seconds = time.perf_counter() - started
                finally:
                    mlflow.keras.autolog(disable=True)
                return {"seconds": seconds, "val_mse": float(history["val_mse"][-1])}
            return project_run(cfg, self.tmp / "runs" / label)

        # Warm-up: one short untimed run of each (TF kernels, lazy MLflow imports, the SQLite schema).
        warm = {}
        for name in wanted:
            short = cfgs[name].model_copy(
                update={"training": cfgs[name].training.model_copy(update={"epochs": 2})}
            )
            started = time.perf_counter()
            one(name, short, f"warmup-{name}")
            warm[name] = time.perf_counter() - started
        self.results["warmup_2_epochs_s"] = warm

        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in wanted}
        for rep in range(self.args.repeats):  # interleaved, so load drifts hit every variant alike
            # and rotated: each variant takes each place in turn, so none always runs right
            # after the 10 s course fit (which leaves the caches cold for the helpers)
            shift = rep % len(wanted)
            for name in wanted[shift:] + wanted[:shift]:
                runs[name].append(one(name, cfgs[name], f"{name}-{rep}"))
                print(
                    f"  rep {rep + 1}/{self.args.repeats} {name}: {runs[name][-1]['seconds']:.2f}s",
                    flush=True,
                )
        clear_keras()
        self.results["compare"] = {
            name: {
                "seconds": [r["seconds"] for r in reps],
                "median_s": median([r["seconds"] for r in reps]),
                "train_seconds_printed": [r.get("train_seconds_printed") for r in reps],
                "val_mse": [r.get("val_mse") for r in reps],
            }
            for name, reps in runs.items()
        }
        self.results["mlflow_experiment_ids"] = {"project": experiment, "autolog": autolog_experiment}
        if "logmodel" in wanted:
            self.results["log_model_call_s"] = self.time_model_logging(experiment, self.tmp / "runs" / "b-0")

    def time_model_logging(self, experiment: str, run_dir: Path, times: int = 5) -> list[float]:
        """The model-logging call itself, timed where it runs (the recorder runs it in its
        helper process, beside training, so b - b' no longer shows it): each into a new run."""
        from mlflow import MlflowClient

        from pipeline.io import read_json
        from pipeline.recorder import RunRecorder
        from pipeline.train import MODEL_FILE, PREPROCESSING_FILE

        client = MlflowClient(self.uri)
        raw_dtypes = read_json(run_dir / "model" / PREPROCESSING_FILE)["raw_dtypes"]
        seconds = []
        for index in range(times):
            run = client.create_run(experiment, run_name=f"log-model-{index}")
            recorder = RunRecorder(self.uri, run.info.run_id, experiment, inline=True)
            started = time.perf_counter()
            recorder.log_model(
                run_dir / "model" / MODEL_FILE, run_dir / "model" / PREPROCESSING_FILE, raw_dtypes
            )
            recorder.drain()
            seconds.append(time.perf_counter() - started)
            recorder.end("FINISHED")
        return seconds

    # -- sweep
    def sweep(self) -> None:
        epochs = self.args.sweep_epochs
        uri = f"sqlite:///{self.tmp / 'sweep-mlflow.db'}"
        ensure_experiment(uri, EXPERIMENT, self.tmp / "artifacts" / "sweep")  # schema made, not timed
        base = [
            "dataset=facebook",
            f"dataset.path={FACEBOOK_CSV}",
            f"training.epochs={epochs}",
            *self.paths,
            f"tracking.uri={uri}",
        ]
        arrays(compose(base))  # the prepared-data cache exists before either side is timed
        jobs = [
            [*base, f"model.initializer={init}", f"optimizer={opt}"]
            for init in INITIALIZERS
            for opt in OPTIMIZERS
        ]
        runs = self.args.sweep_repeats
        # The machine's speed drifts over minutes (a shared host): the project's sweep runs
        # before and after the course's fits, and its median is compared with them.
        walls = [self.project_sweep(epochs, uri, base, 0)]
        course = run_worker("course-sweep", {"overrides": base, "jobs": jobs}, self.tmp, "course-sweep")
        walls += [self.project_sweep(epochs, uri, base, index) for index in range(1, runs)]
        from mlflow import MlflowClient

        client = MlflowClient(uri)
        experiment = client.get_experiment_by_name(EXPERIMENT)
        recorded = client.search_runs([experiment.experiment_id], max_results=1000) if experiment else []
        children = [r for r in recorded if "mlflow.parentRunId" in r.data.tags]
        self.results["sweep"] = {
            "jobs": len(jobs),
            "epochs": epochs,
            "launcher": self.args.launcher or "basic (Hydra's default, sequential)",
            "course_wall_s": course["wall_seconds"],
            "course_fits_s": course["seconds"],
            "course_import_s": course["import_seconds"],
            "course_setup_s": course["setup_seconds"],  # composing 12 configs + loading the data
            "project_walls_s": walls,  # the first before the course's fits, the others after
            "project_wall_s": median(walls),
            "project_runs_recorded": len(recorded),  # the jobs, and a parent run per sweep
            "project_job_runs": len(children) if children else len(recorded),
            "project_job_runs_finished": sum(r.info.status == "FINISHED" for r in (children or recorded)),
        }

    def project_sweep(self, epochs: int, uri: str, base: list[str], index: int) -> float:
        """`python -m pipeline.run -m` over the 12 jobs, timed from start to exit."""
        command = [
            sys.executable,
            "-m",
            "pipeline.run",
            "-m",
            f"model.initializer={','.join(INITIALIZERS)}",
            f"optimizer={','.join(OPTIMIZERS)}",
            *base,
            f"hydra.sweep.dir={self.tmp / 'hydra' / f'sweep-{index}'}",
            f"hydra.run.dir={self.tmp / 'hydra' / 'run'}",
        ]
        if self.args.launcher:
            command.append(f"hydra/launcher={self.args.launcher}")
        log_file = self.tmp / f"project-sweep-{index}.log"
        started = time.perf_counter()
        with open(log_file, "w") as log:
            done = subprocess.run(
                command, cwd=ROOT, env=child_env(self.tmp), stdout=log, stderr=subprocess.STDOUT
            )
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(
                f"project sweep failed (exit {done.returncode}):\n{log_file.read_text()[-3000:]}"
            )
        print(f"  project sweep {index + 1}/{self.args.sweep_repeats}: {wall:.2f}s", flush=True)
        return wall

    # -- throughput
    def throughput(
        self, name: str, overrides: list[str], make_source: Callable[[], None] | None = None
    ) -> None:
        if make_source is not None:
            started = time.perf_counter()
            make_source()
            generate_s = time.perf_counter() - started
        else:
            generate_s = None
        epochs, batch = self.args.throughput_epochs, self.args.throughput_batch
        base = [
            *overrides,
            f"training.epochs={epochs}",
            f"training.batch_size={batch}",
            *self.paths,
            f"tracking.uri={self.uri}",
            "tracking.enabled=false",
        ]
        prepare = run_worker("prepare", {"overrides": base}, self.tmp, f"{name}-prepare")
        course = run_worker("course", {"overrides": base}, self.tmp, f"{name}-course")
        project = run_worker(
            "project",
            {"overrides": base, "out_dir": str(self.tmp / "runs" / f"{name}-project")},
            self.tmp,
            f"{name}-project",
        )
        row_epochs = course["train_rows"] * course["epochs"]
        train_s = project.get("train_seconds_printed")
        self.results[f"throughput_{name}"] = {
            "epochs": epochs,
            "batch_size": batch,
            "train_rows": course["train_rows"],
            "generate_csv_s": generate_s,
            "prepare_s": prepare["seconds"],
            "prepare_peak_rss_mb": prepare["peak_rss_mb"],
            "course_fit_s": course["seconds"],
            "course_rows_per_s": row_epochs / course["seconds"],
            "course_peak_rss_mb": course["peak_rss_mb"],
            "course_rss_after_imports_mb": course["rss_after_imports_mb"],
            "project_run_job_s": project["seconds"],
            "project_rows_per_s_run_job": project["train_rows"] * project["epochs"] / project["seconds"],
            "project_train_s_printed": train_s,
            "project_rows_per_s_train": (project["train_rows"] * project["epochs"] / train_s)
            if train_s
            else None,
            "project_peak_rss_mb": project["peak_rss_mb"],
            "project_rss_after_imports_mb": project["rss_after_imports_mb"],
            "table_mb": project["table_mb"],
            "course_val_mse": course["val_mse"],
            "project_val_mse": project["val_mse"],
        }

    def housing(self) -> None:
        self.throughput("housing", ["dataset=california_housing", f"dataset.path={HOUSING_CSV}"])

    def synthetic(self, rows: int) -> tuple[list[str], Callable[[], None]]:
        """Overrides for a synthetic CSV of `rows` rows (8 inputs), and what writes it."""
        csv = self.tmp / f"synthetic_{rows}.csv"

        def make() -> None:
            import numpy as np
            import pandas as pd

            rng = np.random.default_rng(0)
            x = rng.normal(size=(rows, 8)).astype("float32")
            y = x @ np.linspace(-1.0, 1.0, 8) + np.sin(x[:, 0] * 2) + rng.normal(scale=0.3, size=rows)
            frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(8)])
            frame["y"] = y.astype("float32")
            frame.to_csv(csv, index=False, float_format="%.6g")

        return ["dataset=csv", f"dataset.path={csv}", "dataset.target=y"], make

    def big(self) -> None:
        overrides, make = self.synthetic(self.args.big_rows)
        self.throughput("1m", overrides, make)
        self.linearity(overrides)

    def project_point(self, overrides: list[str], epochs: int, label: str) -> dict[str, Any]:
        """One project run_job (tracking off) in a fresh interpreter, its data prepared first."""
        base = [
            *overrides,
            f"training.epochs={epochs}",
            f"training.batch_size={self.args.throughput_batch}",
            *self.paths,
            f"tracking.uri={self.uri}",
            "tracking.enabled=false",
        ]
        run_worker("prepare", {"overrides": base}, self.tmp, f"{label}-prepare")
        spec = {"overrides": base, "out_dir": str(self.tmp / "runs" / label)}
        return run_worker("project", spec, self.tmp, label)

    def linearity(self, big_overrides: list[str]) -> None:
        """Training time and peak memory at a quarter of the rows and at twice the epochs,
        against the 1m throughput run: is the cost linear in rows x epochs?"""
        epochs = self.args.throughput_epochs
        small_overrides, make_small = self.synthetic(max(self.args.big_rows // 4, 100))
        make_small()
        points = [
            self.project_point(small_overrides, epochs, "linear-quarter-rows"),
            self.project_point(big_overrides, 2 * epochs, "linear-double-epochs"),
        ]
        big = self.results["throughput_1m"]
        reference = {
            "train_rows": big["train_rows"],
            "epochs": big["epochs"],
            "train_seconds_printed": big["project_train_s_printed"],
            "peak_rss_mb": big["project_peak_rss_mb"],
            "rss_after_imports_mb": big["project_rss_after_imports_mb"],
            "table_mb": big["table_mb"],
        }
        self.results["linearity_1m"] = [
            {k: p[k] for k in reference} for p in (points[0], reference, points[1])
        ]

    # -- dvc
    def dvc(self) -> None:
        copy = self.tmp / "project-copy"
        ignore = shutil.ignore_patterns(
            ".venv", "outputs", "mlruns", "mlflow.db", ".ruff_cache", ".pytest_cache", "__pycache__", "tmp"
        )
        started = time.perf_counter()
        shutil.copytree(ROOT, copy, ignore=ignore, symlinks=True)
        copy_s = time.perf_counter() - started
        dvc = str(Path(sys.executable).with_name("dvc"))
        env = child_env(self.tmp)
        env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
        started = time.perf_counter()
        status = subprocess.run([dvc, "status", "--json"], cwd=copy, env=env, capture_output=True, text=True)
        status_s = time.perf_counter() - started
        out: dict[str, Any] = {"copy_s": copy_s, "status_s": status_s}
        changed = json.loads(status.stdout or "{}") if status.returncode == 0 else None
        if changed:
            out["stale_stages"] = sorted(changed)
            if self.args.quick:
                out["repro_s"] = None
                out["skipped"] = f"dvc.lock is stale for {sorted(changed)}; --quick does not re-run them"
                self.results["dvc"] = out
                return
            # bring the copy up to date once (untimed; its MLflow run goes to the fallback store)
            started = time.perf_counter()
            prime = subprocess.run([dvc, "repro"], cwd=copy, env=env, capture_output=True, text=True)
            out["prime_repro_s"] = time.perf_counter() - started
            if prime.returncode != 0:
                out["repro_s"] = None
                out["skipped"] = f"priming `dvc repro` failed: {(prime.stdout + prime.stderr).strip()[-500:]}"
                self.results["dvc"] = out
                return
            changed = {}
        if changed is None:
            out["repro_s"] = None
            out["skipped"] = f"dvc status failed: {status.stderr.strip()[-500:]}"
        else:
            started = time.perf_counter()
            repro = subprocess.run([dvc, "repro"], cwd=copy, env=env, capture_output=True, text=True)
            out["repro_s"] = time.perf_counter() - started
            out["repro_rc"] = repro.returncode
            out["repro_tail"] = (repro.stdout + repro.stderr).strip()[-500:]
        self.results["dvc"] = out


# --------------------------------------------------------------------------- report


def fmt(value: Any, spec: str = ".2f") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return format(value, spec)
    return str(value)


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def copies_lines(t: dict[str, Any], small: dict[str, Any] | None) -> list[str]:
    """The project's peak above its imports, in copies of the float64 table; with a small
    data set's run beside it, also without what any run needs (TF runtime, tracing, figures)."""
    table = t.get("table_mb")
    if not table:
        return []
    above = t["project_peak_rss_mb"] - t["project_rss_after_imports_mb"]
    line = f"  project peak above imports: +{above:.0f} MB = {above / table:.1f} copies of the {table:.0f} MB"
    line += " float64 table (all partitions, inputs + target)"
    lines = [line]
    if small is not None:
        fixed = small["project_peak_rss_mb"] - small["project_rss_after_imports_mb"]
        lines.append(
            f"    less the +{fixed:.0f} MB the housing run needs "
            f"({small.get('table_mb') or 0:.0f} MB of data): +{above - fixed:.0f} MB = "
            f"{(above - fixed) / table:.1f} copies"
        )
    return lines


def marginal(a: dict[str, Any], b: dict[str, Any]) -> float | None:
    """Extra training microseconds per extra row-epoch from point `a` to point `b`."""
    extra = b["train_rows"] * b["epochs"] - a["train_rows"] * a["epochs"]
    seconds = (b["train_seconds_printed"] or 0) - (a["train_seconds_printed"] or 0)
    return seconds / extra * 1e6 if extra and seconds else None


def linearity_lines(points: list[dict[str, Any]]) -> list[str]:
    """Training seconds and peak memory at (rows/4, E), (rows, E), (rows, 2E), and their ratios."""
    lines = ["\nlinearity: project run_job's training part at a quarter of the rows and twice the epochs"]
    lines.append(
        f"  {'training rows x epochs':<24} {'train s':>8} {'us/row-epoch':>13} {'peak above imports':>19}"
    )
    for p in points:
        row_epochs = p["train_rows"] * p["epochs"]
        above = p["peak_rss_mb"] - p["rss_after_imports_mb"]
        lines.append(
            f"  {p['train_rows']:>10} x {p['epochs']:<11} {fmt(p['train_seconds_printed']):>8} "
            f"{fmt(ratio(p['train_seconds_printed'], row_epochs / 1e6)):>13} {above:>16.0f} MB"
        )
    small, ref, long = points
    rows_x = ref["train_rows"] / small["train_rows"]
    mem_small = small["peak_rss_mb"] - small["rss_after_imports_mb"]
    mem_ref = ref["peak_rss_mb"] - ref["rss_after_imports_mb"]
    seconds = [p["train_seconds_printed"] for p in points]
    lines.append(
        f"  {rows_x:.1f}x rows -> {fmt(ratio(seconds[1], seconds[0]))}x training time, "
        f"{fmt(ratio(mem_ref, mem_small))}x peak above imports; "
        f"{long['epochs'] / ref['epochs']:.0f}x epochs -> {fmt(ratio(seconds[2], seconds[1]))}x training time"
    )
    by_rows, by_epochs = marginal(small, ref), marginal(ref, long)
    lines.append(
        f"  marginal cost: more rows {fmt(by_rows)} us/row-epoch, more epochs {fmt(by_epochs)} us/row-epoch "
        "(linear when the two agree; the rest is a fixed cost per run)"
    )
    return lines


def report(results: dict[str, Any]) -> str:
    lines: list[str] = []
    env = results["environment"]
    lines.append(
        f"bench {env['started']}  {env['cpus']} CPUs  load {env['loadavg_start']} -> {env['loadavg_end']}"
    )
    lines.append(
        f"  python {env['python']}  tensorflow {env['tensorflow']}  keras {env['keras']}  "
        f"mlflow {env['mlflow']}  git {env['git_commit']}{' (dirty)' if env['git_dirty'] else ''}"
    )
    imp = results["imports_in_process_s"]
    lines.append(
        "  imports in this process (once, before timing): "
        + ", ".join(f"{k} {v:.2f}s" for k, v in imp.items())
    )
    if env.get("loaded_warning"):
        lines.append(f"  WARNING: {env['loaded_warning']}")
    if "imports_cold_subprocess_s" in results:
        lines.append("\ncold imports (fresh interpreter, wall incl. interpreter start)")
        for name, seconds in results["imports_cold_subprocess_s"].items():
            lines.append(f"  {name:<36} {seconds:7.2f}s")
    if "compare" in results:
        cfg = results["lab_config"]
        lines.append(
            f"\nlab network: {cfg['dataset']}, {cfg['inputs']} inputs, rows {cfg['rows']}, hidden "
            f"{cfg['hidden_units']} {cfg['activation']}, {cfg['optimizer']} lr {cfg['learning_rate']}, "
            f"batch {cfg['batch_size']}, {cfg['epochs']} epochs, validation every epoch"
        )
        labels = {
            "a": "(a) course: Sequential + fit",
            "b": "(b) project run_job, MLflow + model",
            "c": "(c) project, tracking off",
            "d": "(d) course + mlflow.keras.autolog",
            "logmodel": "(b') project, tracking, no model",
        }
        lines.append(
            f"  {'variant':<38} {'median s':>9} {'min':>7} {'max':>7} {'train s*':>8} {'val MSE':>9}"
        )
        comp = results["compare"]
        for name, row in comp.items():
            printed = [t for t in row["train_seconds_printed"] if t is not None]
            mses = [m for m in row["val_mse"] if m is not None]
            lines.append(
                f"  {labels[name]:<38} {fmt(row['median_s']):>9} {fmt(min(row['seconds'])):>7} "
                f"{fmt(max(row['seconds'])):>7} {fmt(median(printed)):>8} {fmt(median(mses), '.4f'):>9}"
            )
        lines.append("  * train s: the training seconds run_job prints (0.1 s resolution); the rest of")
        lines.append("    its time is data loading, evaluation, saving and recording")
        r = results["ratios"]
        lines.append("  ratios (medians): " + ", ".join(f"{k} {fmt(v)}" for k, v in r.items()))
        if results.get("log_model_s") is not None:
            lines.append(
                f"  median(b) - median(b'): {results['log_model_s']:.2f}s (the model is logged by the "
                "recording helper, beside training and drawing)"
            )
        if results.get("log_model_call_s"):
            calls = results["log_model_call_s"]
            lines.append(
                f"  model logging call itself, timed alone: median {median(calls):.2f}s "
                f"(min {min(calls):.2f}, max {max(calls):.2f}, {len(calls)} calls)"
            )
        lines.append(
            "  first (warm-up, 2 epochs) call: "
            + ", ".join(f"{k} {v:.2f}s" for k, v in results["warmup_2_epochs_s"].items())
        )
    if "sweep" in results:
        s = results["sweep"]
        lines.append(
            f"\nsweep: {s['jobs']} jobs ({len(INITIALIZERS)} initializers x {len(OPTIMIZERS)} optimizers), "
            f"{s['epochs']} epochs, launcher {s['launcher']}"
        )
        lines.append(
            f"  course-style fits, one fresh interpreter: {s['course_wall_s']:.2f}s wall "
            f"({s['course_fits_s']:.2f}s in fits, {s['course_import_s']:.2f}s imports, "
            f"{s['course_setup_s']:.2f}s configs+data)"
        )
        walls = ", ".join(f"{w:.2f}" for w in s["project_walls_s"])
        lines.append(
            f"  python -m pipeline.run -m ...:             {s['project_wall_s']:.2f}s wall, median of "
            f"{len(s['project_walls_s'])} ({walls}; the first before the course's fits) "
            f"({s['project_job_runs_finished']}/{s['project_job_runs']} job runs FINISHED, "
            f"{s['project_runs_recorded']} MLflow runs in all)"
        )
        lines.append(
            f"  ratio project/course: wall {fmt(ratio(s['project_wall_s'], s['course_wall_s']))}, "
            f"project wall / course fits {fmt(ratio(s['project_wall_s'], s['course_fits_s']))}"
        )
        lines.append(
            f"  speed-up: {fmt(ratio(s['course_wall_s'], s['project_wall_s']))}x (course wall / project wall)"
        )
    for key in ("throughput_housing", "throughput_1m"):
        if key not in results:
            continue
        t = results[key]
        lines.append(
            f"\nthroughput {key.removeprefix('throughput_')}: {t['train_rows']} training rows x "
            f"{t['epochs']} epochs, batch {t['batch_size']} (one subprocess per measurement)"
        )
        if t["generate_csv_s"] is not None:
            lines.append(f"  generate CSV {t['generate_csv_s']:.2f}s")
        lines.append(
            f"  prepare (ingest+normalize+split) {t['prepare_s']:.2f}s, "
            f"peak RSS {t['prepare_peak_rss_mb']:.0f} MB"
        )
        lines.append(
            f"  {'':<28} {'seconds':>8} {'rows/s':>10} {'peak RSS MB':>12} {'RSS after imports':>18}"
        )
        lines.append(
            f"  {'course fit':<28} {t['course_fit_s']:8.2f} {t['course_rows_per_s']:10.0f} "
            f"{t['course_peak_rss_mb']:12.0f} {t['course_rss_after_imports_mb']:18.0f}"
        )
        lines.append(
            f"  {'project run_job (no tracking)':<28} {t['project_run_job_s']:8.2f} "
            f"{t['project_rows_per_s_run_job']:10.0f} {t['project_peak_rss_mb']:12.0f} "
            f"{t['project_rss_after_imports_mb']:18.0f}"
        )
        if t["project_rows_per_s_train"]:
            lines.append(
                f"  {'  its training part*':<28} {t['project_train_s_printed']:8.2f} "
                f"{t['project_rows_per_s_train']:10.0f}"
            )
        lines.append(
            f"  final val MSE (scaled): course {t['course_val_mse']:.4f}, "
            f"project {fmt(t['project_val_mse'], '.4f')}"
        )
        lines.extend(
            copies_lines(t, results.get("throughput_housing") if key != "throughput_housing" else None)
        )
    if "linearity_1m" in results:
        lines.extend(linearity_lines(results["linearity_1m"]))
    if "dvc" in results:
        d = results["dvc"]
        lines.append(
            f"\ndvc (temporary copy of the project): copy {d['copy_s']:.2f}s, "
            f"`dvc status` {d['status_s']:.2f}s, "
            f"no-op `dvc repro` {fmt(d['repro_s'])}s"
            + (
                f" (after an untimed priming repro of {d['prime_repro_s']:.1f}s)"
                if d.get("prime_repro_s")
                else ""
            )
            + (f"  [{d['skipped']}]" if d.get("skipped") else "")
        )
    if results.get("errors"):
        lines.append("\nERRORS")
        for name, error in results["errors"].items():
            lines.append(f"  {name}: {error.splitlines()[0] if error else ''}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI smoke run: 1 repeat, short sweep, no 1M set")
    parser.add_argument("--only", help=f"comma-separated sections: {','.join(ALL_SECTIONS)}")
    parser.add_argument("--repeats", type=int, help="repetitions per variant (default 3; 1 with --quick)")
    parser.add_argument("--epochs", type=int, default=100, help="epochs of (a)-(d) (default 100, the lab)")
    parser.add_argument("--sweep-epochs", type=int, help="epochs per sweep job (default 100; 5 with --quick)")
    parser.add_argument("--launcher", help="a Hydra launcher for the project sweep (hydra/launcher=NAME)")
    parser.add_argument(
        "--sweep-repeats",
        type=int,
        help="project sweeps, one before the course's fits (default 3; 1 with --quick)",
    )
    parser.add_argument(
        "--throughput-epochs", type=int, help="epochs of the throughput runs (default 3; 1 with --quick)"
    )
    parser.add_argument("--throughput-batch", type=int, default=32, help="batch size of the throughput runs")
    parser.add_argument(
        "--big-rows", type=int, default=1_000_000, help="rows of the synthetic CSV (default 1e6)"
    )
    parser.add_argument("--json", type=Path, help="write every number to this JSON file")
    parser.add_argument("--workdir", type=Path, help="use (and keep) this folder instead of a temporary one")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    if args.sweep_epochs is None:
        args.sweep_epochs = 5 if args.quick else 100
    if args.sweep_repeats is None:
        args.sweep_repeats = 1 if args.quick else 3
    if args.throughput_epochs is None:
        args.throughput_epochs = 1 if args.quick else 3
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    return args


def selected(args: argparse.Namespace) -> list[str]:
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in ALL_SECTIONS]
        if unknown:
            raise SystemExit(f"bench: unknown sections {unknown}; choose from {', '.join(ALL_SECTIONS)}")
        return names
    return [n for n in ALL_SECTIONS if not (args.quick and n == "1m")]


def environment() -> dict[str, Any]:
    def git(*cmd: str) -> str:
        done = subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    return {
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_start": loadavg(),
        "git_commit": git("rev-parse", "--short", "HEAD") or None,
        "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        out = worker(args.worker, json.loads(args.spec))
        args.result.write_text(json.dumps(out))
        return 0
    os.chdir(ROOT)  # git_commit() and `python -m pipeline.run` expect the project root
    sections = selected(args)
    for csv in (FACEBOOK_CSV, HOUSING_CSV):
        if not csv.is_file():
            raise SystemExit(f"bench: {csv} not found (set SHARED_DATA_DIR)")
    results: dict[str, Any] = {
        "environment": environment(),
        "args": {k: str(v) for k, v in vars(args).items()},
        "sections": sections,
        "errors": {},
    }

    from pipeline.heap import for_good

    imports: dict[str, float] = {}
    # As in a project process (`pipeline.run`): what the imports build is kept out of the
    # garbage collector's way. Otherwise a full collection over TensorFlow's heap (~0.3 s)
    # lands in whichever variant crosses the collector's threshold, the course's or ours.
    with for_good("bench imports"):
        for name in ("numpy", "pandas", "tensorflow", "keras", "mlflow", "pipeline.run"):
            started = time.perf_counter()
            __import__(name)
            imports[name] = time.perf_counter() - started
    results["imports_in_process_s"] = imports
    import keras
    import mlflow
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # the per-model tf.function retracing notices, every run
    results["environment"] |= {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "mlflow": mlflow.__version__,
    }

    tmp = args.workdir or Path(tempfile.mkdtemp(prefix="keras-bench-"))
    tmp = tmp.resolve()
    tmp.mkdir(parents=True, exist_ok=True)
    results["workdir"] = str(tmp)
    print(f"bench: sections {','.join(sections)}; working in {tmp}", flush=True)
    bench = Bench(args, tmp, sections)
    steps: list[tuple[str, Callable[[], None]]] = []
    if "imports" in sections:
        steps.append(("imports", bench.imports))
    if any(s in sections for s in COMPARE):
        steps.append(("compare", bench.compare))
    for name, step in (
        ("sweep", bench.sweep),
        ("housing", bench.housing),
        ("1m", bench.big),
        ("dvc", bench.dvc),
    ):
        if name in sections:
            steps.append((name, step))
    try:
        for name, step in steps:
            print(f"bench: {name} ...", flush=True)
            started = time.perf_counter()
            try:
                step()
            except Exception as err:  # noqa: BLE001 (report it, go on with the other sections)
                results["errors"][name] = f"{type(err).__name__}: {err}"
                print(f"bench: {name} FAILED: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
            print(f"bench: {name} done in {time.perf_counter() - started:.1f}s", flush=True)
        results |= bench.results
    finally:
        if not (args.keep or args.workdir):
            shutil.rmtree(tmp, ignore_errors=True)

    comp = {k: v["median_s"] for k, v in results.get("compare", {}).items()}
    results["ratios"] = {
        "b/a": ratio(comp.get("b"), comp.get("a")),
        "b/c": ratio(comp.get("b"), comp.get("c")),
        "b/d": ratio(comp.get("b"), comp.get("d")),
        "c/a": ratio(comp.get("c"), comp.get("a")),
        "d/a": ratio(comp.get("d"), comp.get("a")),
    }
    results["log_model_s"] = (comp["b"] - comp["logmodel"]) if "b" in comp and "logmodel" in comp else None
    env = results["environment"]
    env["loadavg_end"] = loadavg()
    start, end = (env["loadavg_start"] or [0])[0], (env["loadavg_end"] or [0])[0]
    if env["cpus"] and (start > 0.5 * env["cpus"] or end > env["cpus"]):  # the benchmark itself adds ~1
        env["loaded_warning"] = (
            f"the machine was busy (1-min load {start} at the start, {end} at the end, "
            f"{env['cpus']} CPUs): timings are noisy"
        )
    print()
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
        print(f"\nbench: wrote {args.json}")
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
