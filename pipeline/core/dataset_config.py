"""The data set's and the split's part of the configuration (re-exported by pipeline.core.config)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MISSING = "???"

DatasetName = Literal[
    "diabetes", "facebook", "california_housing", "synthetic", "csv", "digits", "breast_cancer", "moons"
]
# what the network learns: a number, one of two classes, one of k classes; `auto` decides
# from the target column when that is unambiguous (pipeline.data.labels)
TaskSetting = Literal["regression", "binary", "multiclass", "auto"]
Task = Literal["regression", "binary", "multiclass"]
GENERATED = ("synthetic", "moons")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SyntheticConfig(Strict):
    """A generated data set's size, noise and seed (dataset=synthetic, dataset=moons)."""

    n_samples: int = Field(gt=2)
    noise: float = Field(ge=0)
    seed: int = 0
    frequency: float = Field(default=1.0, gt=0)  # synthetic: periods of the sine on [0, 1]


class ClusterSimilarityConfig(Strict):
    """Inputs added from some numeric columns: each row's Gaussian RBF similarity
    exp(-gamma * squared distance) to each of `clusters` k-means centers of those columns,
    the centers fitted on the training rows only (Geron's ClusterSimilarity). Off while
    `columns` is empty."""

    columns: list[str] = []
    clusters: int = Field(default=10, ge=1)
    gamma: float = Field(default=1.0, gt=0)
    seed: int = 42


class DatasetConfig(Strict):
    name: DatasetName
    task: TaskSetting = "regression"
    path: str | None = None
    url: str | None = None
    sha256: str | None = None
    archive_member: str | None = None
    separator: str = Field(min_length=1)
    target: str = Field(min_length=1)
    features: list[str] | None = None
    categorical: list[str] = []
    drop_blank_rows: bool = True
    # a feature with one value everywhere: kept (scale 1, with a warning) or dropped
    constant_columns: Literal["keep", "drop"] = "keep"
    # numeric features replaced by log(1 + x) (skewed counts); every value must be >= 0
    log_features: list[str] = []
    # inputs added: the similarity of each row to k-means centers of some columns (e.g. the coordinates)
    cluster_similarity: ClusterSimilarityConfig = ClusterSimilarityConfig()
    synthetic: SyntheticConfig | None = None

    @model_validator(mode="after")
    def _source_is_known(self) -> DatasetConfig:
        if self.path == MISSING:
            raise ValueError(f"dataset.path is required for dataset={self.name}: set dataset.path=FILE")
        if self.target == MISSING:
            raise ValueError(f"dataset.target is required for dataset={self.name}: set dataset.target=COLUMN")
        if self.name in GENERATED and self.synthetic is None:
            raise ValueError(f"dataset.synthetic (n_samples, noise, seed) is needed for dataset={self.name}")
        if self.name in ("facebook", "california_housing", "csv") and not (self.path or self.url):
            raise ValueError(f"dataset={self.name} needs dataset.path (a local file) or dataset.url")
        return self


class SplitConfig(Strict):
    validation: float | int
    test: float | int
    seed: int = 42

    @field_validator("validation", "test")
    @classmethod
    def _size(cls, value: float | int) -> float | int:
        if isinstance(value, float) and not 0.0 < value < 1.0:
            raise ValueError(f"a fraction must lie in (0, 1) or be a row count >= 1, got {value}")
        if isinstance(value, int) and value < 1:
            raise ValueError(f"a row count must be >= 1 (or a fraction in (0, 1)), got {value}")
        return value

    @model_validator(mode="after")
    def _leaves_training_rows(self) -> SplitConfig:
        if isinstance(self.validation, float) and isinstance(self.test, float):
            if self.validation + self.test >= 1.0:
                raise ValueError(
                    f"split.validation + split.test = {self.validation + self.test:g} leaves no "
                    "training rows: their sum must be below 1"
                )
        return self
