"""Typed, validated configuration: the schema of `conf/` (composed into `params.yaml`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from pipeline.core.credentials import credentials_error
from pipeline.core.dataset_config import (  # noqa: F401 (part of this module's interface)
    MISSING,
    DatasetConfig,
    DatasetName,
    SplitConfig,
    Strict,
    SyntheticConfig,
    Task,
    TaskSetting,
)
from pipeline.core.errors import PipelineError

OptimizerName = Literal["sgd", "momentum", "rmsprop", "adam", "adamw", "nadam", "adagrad"]
ScheduleName = Literal["none", "inverse_time", "exponential", "cosine"]
Activation = Literal[
    "relu", "tanh", "sigmoid", "elu", "selu", "gelu", "swish", "softplus", "leaky_relu", "linear"
]
Initializer = Literal[
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "lecun_uniform",
    "lecun_normal",
    "random_normal",
    "random_uniform",
    "truncated_normal",
    "variance_scaling",
    "orthogonal",
    "zeros",
    "ones",
    "constant",
    "identity",
]


class ModelConfig(Strict):
    hidden_units: list[int] = []
    # shorthand for searches: when both are set, `depth` layers of `width` units replace hidden_units
    depth: int | None = Field(default=None, ge=0)
    width: int | None = Field(default=None, ge=1)
    activation: Activation = "relu"
    initializer: Initializer = "glorot_uniform"
    initializer_args: dict[str, float | int] = {}
    bias_initializer: Initializer = "zeros"
    l1: float | list[float] = 0.0
    l2: float | list[float] = 0.0

    @field_validator("hidden_units")
    @classmethod
    def _widths(cls, units: list[int]) -> list[int]:
        if any(u < 1 for u in units):
            raise ValueError(f"every hidden layer needs at least 1 unit, got {units}")
        return units

    @model_validator(mode="after")
    def _shorthand(self) -> ModelConfig:
        if (self.depth is None) != (self.width is None):
            raise ValueError("model.depth and model.width go together: set both or neither")
        if self.depth is not None and self.width is not None:
            object.__setattr__(self, "hidden_units", [self.width] * self.depth)
        return self

    @model_validator(mode="after")
    def _penalties(self) -> ModelConfig:
        layers = len(self.hidden_units) + 1
        for key in ("l1", "l2"):
            value = getattr(self, key)
            values = value if isinstance(value, list) else [value]
            if any(v < 0 for v in values):
                raise ValueError(f"model.{key} must be >= 0, got {value}")
            if isinstance(value, list) and len(value) != layers:
                raise ValueError(
                    f"model.{key} has {len(value)} values but the network has {layers} Dense "
                    "layers (hidden layers, then the output): give one number or one per layer"
                )
        return self

    def penalty(self, key: Literal["l1", "l2"], layer: int) -> float:
        value = getattr(self, key)
        return float(value[layer] if isinstance(value, list) else value)


class ScheduleConfig(Strict):
    name: ScheduleName = "none"
    decay_rate: float = Field(default=0.0, ge=0)
    decay_steps: int = Field(default=1, ge=1)
    alpha: float = Field(default=0.0, ge=0, le=1)  # cosine: the floor, as a fraction of the start


class OptimizerConfig(Strict):
    name: OptimizerName
    learning_rate: float = Field(gt=0)
    momentum: float = Field(default=0.0, ge=0, lt=1)
    nesterov: bool = False
    clipnorm: float | None = Field(default=None, gt=0)
    schedule: ScheduleConfig = ScheduleConfig()


class EarlyStoppingConfig(Strict):
    enabled: bool = False
    # accuracies (classification) are maximized, the others minimized
    monitor: Literal["val_loss", "val_mse", "train_loss", "train_mse", "val_accuracy", "train_accuracy"] = (
        "val_loss"
    )
    patience: int = Field(default=3, ge=0)
    min_delta: float = Field(default=0.0, ge=0)
    restore_best_weights: bool = True


class LrRangeConfig(Strict):
    """The learning-rate range test (pipeline.model.lr_range): a run that does only this."""

    enabled: bool = False
    min_lr: float = Field(default=1e-6, gt=0)
    max_lr: float = Field(default=10.0, gt=0)
    steps: int = Field(default=200, ge=10)  # batches, the rate raised by a constant factor each
    smoothing: float = Field(default=0.9, ge=0, lt=1)  # of the loss, exponential moving average
    explode: float = Field(default=4.0, gt=1)  # stop when the smoothed loss is this times its lowest

    @model_validator(mode="after")
    def _range(self) -> LrRangeConfig:
        if self.max_lr <= self.min_lr:
            raise ValueError(f"training.lr_range.max_lr ({self.max_lr}) must exceed min_lr ({self.min_lr})")
        return self


class TrainingConfig(Strict):
    epochs: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    seed: int = 42
    scale_features: bool = True
    scale_target: bool = True
    cv_folds: int = Field(default=0, ge=0)  # k >= 2: k-fold cross-validation on train + validation rows
    diagnostics: bool | Literal["auto"] = "auto"
    diagnostics_rows: int = Field(default=4096, ge=1)
    distributions: bool = True  # with diagnostics: per-layer distributions at the start, epoch 1, the end
    distributions_every: int = Field(default=0, ge=0)  # ... and every k epochs too
    threads: int = Field(default=1, ge=0)  # TensorFlow's threads per op; 0: one per core
    graph_optimizer: bool = False  # TensorFlow's grappler on the compiled epoch function
    progress: bool = True  # epoch n of N with the latest losses while training (pipeline.reports.progress)
    progress_interval_s: float = Field(default=10.0, ge=0)  # between plain lines, when not on a terminal
    early_stopping: EarlyStoppingConfig = EarlyStoppingConfig()
    lr_range: LrRangeConfig = LrRangeConfig()

    @field_validator("cv_folds")
    @classmethod
    def _folds(cls, value: int) -> int:
        if value == 1:
            raise ValueError("training.cv_folds must be 0 (off) or at least 2")
        return value


class TrackingConfig(Strict):
    enabled: bool = True
    uri: str | None = None
    experiment: str = Field(min_length=1)
    run_name: str = Field(min_length=1)
    sweep_name: str = Field(default="sweep", min_length=1)
    log_model: bool = True
    async_logging: bool = False  # metric batches through MLflow's async logging queue
    http_timeout_s: int = Field(default=5, ge=1)  # a tracking server's reply, per request
    http_retries: int = Field(default=2, ge=0)  # before the first record: fail fast
    outage_grace_s: int = Field(default=60, ge=0)  # once recording: how long to wait for a server back

    @field_validator("uri")
    @classmethod
    def _no_credentials(cls, uri: str | None) -> str | None:
        """Credentials stay in the environment (pipeline.core.credentials)."""
        error = credentials_error(uri)
        if error:
            raise ValueError(error.removeprefix("tracking.uri "))
        return uri

    @field_validator("run_name", "sweep_name")
    @classmethod
    def _readable(cls, name: str) -> str:
        """Numbers with more than four significant digits are rounded to three: a searched
        learning rate names its run `lr0.00873`, not `lr0.008731907739399207`."""

        def rounded(found: re.Match[str]) -> str:
            digits = found.group(1).replace(".", "").lstrip("0")
            return f"{float(found.group()):.3g}" if len(digits) > 4 else found.group()

        return re.sub(r"(?<![\d.])(\d*\.\d+)(?:[eE][-+]?\d+)?(?![\d.])", rounded, name)


class PathsConfig(Strict):
    raw_dir: str
    interim_dir: str
    processed_dir: str
    download_dir: str
    prepared_cache: str
    model_dir: str
    run_record: str
    history: str
    metrics: str
    headline_metrics: str
    predictions: str
    confusion: str
    train_figures: str
    eval_figures: str
    mlflow_db: str
    mlflow_artifacts: str


class Config(Strict):
    paths: PathsConfig
    split: SplitConfig
    dataset: DatasetConfig
    model: ModelConfig
    optimizer: OptimizerConfig
    training: TrainingConfig
    tracking: TrackingConfig


def _describe(error: Mapping[str, Any]) -> str:
    key = ".".join(str(part) for part in error["loc"] if not str(part).startswith("function-"))
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key (check its spelling)"
    if error["type"] == "missing":
        return f"{key}: required key is missing"
    if error["type"] in ("literal_error", "enum"):
        return f"{key}: {error['input']!r} is not valid; {message[0].lower()}{message[1:]}"
    prefix = f"{key}: " if key else ""
    return f"{prefix}{message}"


def validate_config(raw: Mapping[str, Any], source: str) -> Config:
    """Validate a composed config; every problem is listed in one PipelineError naming the key."""
    try:
        return Config.model_validate(dict(raw))
    except ValidationError as err:
        problems = "; ".join(_describe(e) for e in err.errors())
        raise PipelineError(f"{source}: invalid configuration: {problems}") from None


def load_config(path: str | Path = "params.yaml") -> Config:
    """Read and validate the composed `params.yaml`."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: not found; compose it from conf/ with `make params`")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return validate_config(raw, str(path))


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested mappings to dotted keys: {'a': {'b': 1}} -> {'a.b': 1}.

    Argument bundles (keys ending in `_args`) stay one value, so they compare as one.
    """
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value and not str(key).endswith("_args"):
            flat.update(flatten(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat
