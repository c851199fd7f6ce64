"""What a training run records beyond its metrics: params, tags, its training data, its model."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import warnings
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from pipeline.core.config import Config, flatten
from pipeline.data.outputs import LABEL, PROBABILITY_PREFIX
from pipeline.tracking.owner import git_commit
from pipeline.tracking.recorder import RUN_STATUS_TAG, RunRecorder

if TYPE_CHECKING:  # TensorFlow's import is the training's to pay, not every importer's
    from pipeline.model.training import TrainResult

MODEL_REQUIREMENTS = ("mlflow", "keras", "tensorflow-cpu", "pandas", "numpy")
# the package's files the served model imports (tracking/serving_model.py), copied into the model
SERVING_MODULES = ("__init__.py", "data/__init__.py", "data/features.py", "data/outputs.py")
TAG_VALUE_LIMIT = 8000  # MLflow's longest tag value
DATASET_ATTEMPTS = 4  # a dataset record that loses a race with another job's is sent again


def recorded_params(cfg: Config) -> dict[str, Any]:
    """The whole resolved config as dotted keys; a tracking URI's credentials are removed."""
    params = flatten(cfg.model_dump(mode="json"))
    uri = params.get("tracking.uri")
    if isinstance(uri, str) and "@" in uri:
        scheme, _, rest = uri.partition("://")
        params["tracking.uri"] = f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return params


NUMBER_GROUPS = ("model.", "optimizer.", "training.")  # the config a sweep varies numerically
# how a run trains, not what: no metric of its own
NOT_SETTINGS = {"training.threads", "training.diagnostics_rows", "training.progress_interval_s"}


def number_metrics(cfg: Config, param_count: int) -> dict[str, float]:
    """The run's numeric settings as metrics, which MLflow's UI sorts, filters and charts as
    numbers (its params are strings): every int or float of the model, optimizer and training
    config (learning rate, momentum, penalties, batch size, ...), the network's depth (hidden
    layers), width (its widest hidden layer), largest L1 and L2 penalty, and `param_count`."""
    flat = recorded_params(cfg)
    numbers = {
        key: float(value)
        for key, value in flat.items()
        if key.startswith(NUMBER_GROUPS) and key not in NOT_SETTINGS
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
    units = cfg.model.hidden_units
    layers = len(units) + 1
    numbers["model.depth"] = float(len(units))
    numbers["model.width"] = float(max(units, default=0))
    for key in ("l1", "l2"):
        numbers[f"model.{key}"] = max(cfg.model.penalty(key, layer) for layer in range(layers))
    return numbers | {"param_count": float(param_count)}


def run_tags(dataset: str, train_md5: str, result: TrainResult) -> dict[str, Any]:
    """Status, provenance, and where training stopped or diverged."""
    tags: dict[str, Any] = {
        RUN_STATUS_TAG: result.status,
        "git_commit": git_commit(),
        "dataset": dataset,
        "data.train_md5": train_md5,
        "epochs_run": result.epochs_run,
    }
    if result.stopped_epoch is not None:
        tags |= {"stopped_epoch": result.stopped_epoch, "best_epoch": result.best_epoch}
    if result.divergence is not None:
        d = result.divergence
        tags |= {"diverged": "true", "diverged_epoch": d.epoch, "diverged_batch": d.batch}
        if result.max_grad_layer is not None:
            tags |= {
                "diverged_max_grad_norm": f"{result.max_grad_norm:.6g}",
                "diverged_max_grad_layer": result.max_grad_layer,
            }
    if result.max_grad_layer is not None:
        tags["max_grad_layer"] = result.max_grad_layer
    return tags


def model_tags(task: str, classes: list[str], input_columns: list[str]) -> dict[str, str]:
    """What the network was built for, beside the configured params (`dataset.task` may say
    `auto`): `resolved_task`, `classes` (JSON, class index i is classes[i]; [] for a
    regression) and `input_columns` (JSON, the raw columns the logged model takes, in order)."""
    return {
        "resolved_task": task,
        "classes": json.dumps(classes)[:TAG_VALUE_LIMIT],
        "input_columns": json.dumps(input_columns)[:TAG_VALUE_LIMIT],
    }


def log_training_data(recorder: RunRecorder, part_file: Path, name: str, target: str) -> None:
    """A prepared partition as the run's training dataset input (name, digest, source, schema)."""
    import mlflow.data
    from mlflow.entities import Dataset, DatasetInput, InputTag

    frame = pd.read_parquet(part_file)
    # a local path matches two equivalent source types; a class-index target is an integer
    # column, which MLflow's schema inference warns may not hold missing values (it holds none)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        dataset = mlflow.data.from_pandas(frame, source=str(part_file.resolve()), name=name, targets=target)
        fields = dataset.to_dict()
    record = DatasetInput(Dataset(**fields), tags=[InputTag("mlflow.data.context", "training")])
    for attempt in range(DATASET_ATTEMPTS):
        try:
            recorder.log_inputs([record])
            return
        except Exception as err:
            # Jobs of a sweep record the same dataset at once: the store finds none, all
            # insert it, one wins and the others fail on its unique key (seen on a Ray
            # cluster). Asked again, the store finds the winner's row and links it.
            if "unique constraint" not in str(err).lower() or attempt == DATASET_ATTEMPTS - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


def pip_requirements() -> list[str]:
    """What the logged model needs, pinned to what trained it (no slow inference)."""
    pins = []
    for name in MODEL_REQUIREMENTS:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return pins


def _col_type(dtype: str) -> str:
    if dtype.startswith(("int", "uint")):
        return "long"
    if dtype.startswith("float"):
        return "double"
    if dtype == "bool":
        return "boolean"
    return "string"


def output_schema(classes: list[str]) -> list[Any]:
    """The served model's output columns: the prediction (a number), or for a classifier the
    class `label` and `probability_<class>` for each class (pipeline.tracking.serving_model)."""
    from mlflow.types import ColSpec

    if not classes:
        return [ColSpec("double")]
    return [ColSpec("string", LABEL), *(ColSpec("double", f"{PROBABILITY_PREFIX}{c}") for c in classes)]


def log_model(
    recorder: RunRecorder,
    keras_file: Path,
    preprocessing_file: Path,
    raw_dtypes: Mapping[str, str],
    classes: list[str] | None = None,
) -> str | None:
    """Log the raw-rows pyfunc model (the `.keras` network inside) into the run, tag its
    `model_uri` and return it; None when the run's record is being kept for later."""
    import mlflow
    import mlflow.pyfunc
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    import pipeline

    signature = ModelSignature(
        inputs=Schema([ColSpec(_col_type(t), name) for name, t in raw_dtypes.items()]),
        outputs=Schema(output_schema(classes or [])),
    )
    package = Path(pipeline.__file__).parent

    def log() -> str:
        from mlflow.entities import LoggedModelOutput, Metric

        mlflow.set_tracking_uri(recorder.uri)
        client, run_id = recorder.client, recorder.run_id
        # What pyfunc.log_model does inside a resumed run, without resuming it or reading back
        # every metric's history: the model record carries the run's params, the run lists the
        # model among its outputs, and the run's step-0 metrics are linked to the model.
        params = client.get_run(run_id).data.params
        model = mlflow.initialize_logged_model(
            name="model", source_run_id=run_id, params=params, experiment_id=recorder.experiment_id
        )
        client.log_outputs(run_id, [LoggedModelOutput(model.model_id, step=0)])
        model_id = model.model_id
        linked = [Metric(m.key, m.value, m.timestamp, 0, model_id=model_id) for m in recorder.first_step]
        if linked:
            client.log_batch(run_id, metrics=linked)
        with tempfile.TemporaryDirectory(prefix="serving-code-") as code:
            for name in SERVING_MODULES:
                (Path(code) / "pipeline" / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(package / name, Path(code) / "pipeline" / name)
            with warnings.catch_warnings():
                # no input example on purpose: the signature is explicit (mlflow #16183)
                warnings.filterwarnings("ignore", message=".*input example.*")
                info = mlflow.pyfunc.log_model(
                    name="model",
                    model_id=model.model_id,
                    python_model=str(package / "tracking" / "serving_model.py"),
                    artifacts={"keras_model": str(keras_file), "preprocessing": str(preprocessing_file)},
                    code_paths=[str(Path(code) / "pipeline")],
                    signature=signature,
                    pip_requirements=pip_requirements(),
                )
        return str(info.model_uri)

    fields = {
        "keras_file": str(keras_file.resolve()),
        "preprocessing_file": str(preprocessing_file.resolve()),
        "raw_dtypes": dict(raw_dtypes),
        "classes": list(classes or []),
    }
    recorder.wait()  # the step-0 metrics the model links are in the store first
    model_uri = recorder.record("model", fields, log)
    if model_uri is None:  # kept for later (pipeline.tracking.spool): the upload logs it
        return None
    recorder.set_tags({"model_uri": model_uri})
    return model_uri
