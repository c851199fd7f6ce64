"""Every file name the stages and jobs write, in one place. Folders come from `conf/paths/`."""

from __future__ import annotations

# ingest: <paths.raw_dir>/
RAW_FILE = "data.csv"
PROVENANCE_FILE = "provenance.json"
# normalize: <paths.interim_dir>/
NORMALIZED_FILE = "normalized.parquet"
SCHEMA_FILE = "schema.json"
# split: <paths.processed_dir>/ (and each folder under <paths.prepared_cache>/)
PARTS = ("train", "validation", "test")
SCALER_FILE = "scaler.json"
MANIFEST_FILE = "manifest.json"
# train: <paths.model_dir>/
MODEL_FILE = "model.keras"
PREPROCESSING_FILE = "preprocessing.json"
# a Hydra job's output folder
JOB_FILE = "job.json"
ERROR_FILE = "error.txt"
HISTORY_FILE = "history.csv"
DISTRIBUTIONS_FILE = "distributions.json"  # per-layer quantiles at the start, epoch 1, the end
METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.csv"
FIGURES_DIR = "figures"
MODEL_DIR = "model"
LR_RANGE_FILE = "lr_range.csv"  # a learning-rate range test's rate, loss and smoothed loss per batch
LR_RANGE_FIGURE = "lr_range.png"
UNSENT_FILE = "unsent.jsonl"  # a run's record kept while its tracking server was away
SENT_FILE = "sent.jsonl"  # ... renamed once `python -m pipeline.upload` has sent it
# a sweep's output folder
COMPARISON_DIR = "comparison"


def part_file(part: str) -> str:
    """The parquet file of one partition: `train.parquet`, ..."""
    return f"{part}.parquet"
