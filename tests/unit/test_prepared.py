"""The prepared partitions: read from disk when asked for, design matrices without copies."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.core.config import TrainingConfig
from pipeline.core.files import MANIFEST_FILE, PARTS, SCALER_FILE, SCHEMA_FILE, part_file
from pipeline.core.io import write_json
from pipeline.data.features import standardize
from pipeline.data.prepared import (
    ALIGNMENT,
    PartFiles,
    Prepared,
    aligned_empty,
    design_matrix,
    load_prepared,
    matrices,
    read_part,
    target_values,
)
from pipeline.data.split import fit_scaler
from pipeline.model.engine import as_tensor

FEATURES = ["a", "b", "c_x", "c_y"]


def frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    level = rng.integers(0, 2, rows)
    return pd.DataFrame(
        {
            "a": rng.normal(3.0, 7.0, rows),
            "b": rng.uniform(-1e4, 1e4, rows),
            "c_x": (level == 0).astype("float64"),
            "c_y": (level == 1).astype("float64"),
            "target": rng.normal(100.0, 30.0, rows),
        }
    )


@pytest.fixture
def prepared_dir(tmp_path: Path) -> Path:
    sizes = dict(zip(PARTS, (500, 150, 150), strict=True))
    parts = {part: frame(rows, seed) for seed, (part, rows) in enumerate(sizes.items())}
    schema = {"encoded_features": FEATURES, "target": "target", "numeric": ["a", "b"], "categorical": {}}
    for part, rows in parts.items():
        rows.to_parquet(tmp_path / part_file(part), index=False)
    write_json(tmp_path / SCHEMA_FILE, schema)
    write_json(tmp_path / SCALER_FILE, fit_scaler(parts["train"], schema))
    write_json(tmp_path / MANIFEST_FILE, {"rows": {p: len(f) for p, f in parts.items()}})
    return tmp_path


def whole_matrix_way(rows: pd.DataFrame, prepared: Prepared, training: TrainingConfig) -> tuple:
    """What design_matrix computed before: the float64 matrix standardized, then cast."""
    x = rows[FEATURES].to_numpy(dtype="float64")
    y = rows["target"].to_numpy(dtype="float64")
    if training.scale_features:
        x = standardize(x, prepared.scaler["features"])
    if training.scale_target:
        y = standardize(y, prepared.target_stats)
    return x.astype("float32"), y.astype("float32")


@pytest.mark.parametrize("scale", [True, False])
@pytest.mark.parametrize("part", PARTS)
def test_design_matrix_from_the_files_equals_the_whole_matrix_way_bit_for_bit(prepared_dir, part, scale):
    prepared = load_prepared(prepared_dir)
    training = TrainingConfig(epochs=1, batch_size=32, scale_features=scale, scale_target=scale)
    x, y = design_matrix(prepared, part, training)
    want_x, want_y = whole_matrix_way(pd.read_parquet(prepared_dir / part_file(part)), prepared, training)
    assert x.dtype == y.dtype == np.float32
    assert x.tobytes() == want_x.tobytes() and y.tobytes() == want_y.tobytes()


def test_frames_in_memory_give_the_same_matrices_as_the_files(prepared_dir):
    on_disk = load_prepared(prepared_dir)
    in_memory = Prepared(
        {p: pd.read_parquet(prepared_dir / part_file(p)) for p in PARTS},
        on_disk.schema,
        on_disk.scaler,
        on_disk.manifest,
        prepared_dir,
    )
    training = TrainingConfig(epochs=1, batch_size=32)
    for part in PARTS:
        pairs = zip(
            design_matrix(on_disk, part, training), design_matrix(in_memory, part, training), strict=True
        )
        assert all(a.tobytes() == b.tobytes() for a, b in pairs)
    x, _ = matrices(in_memory.parts["train"], on_disk.schema, on_disk.scaler, training)
    assert x.tobytes() == design_matrix(on_disk, "train", training)[0].tobytes()


def test_matrices_are_aligned_c_contiguous_and_shared_with_tensorflow(prepared_dir):
    x, y = design_matrix(load_prepared(prepared_dir), "train", TrainingConfig(epochs=1, batch_size=32))
    for values in (x, y):
        assert values.flags.c_contiguous and values.ctypes.data % ALIGNMENT == 0
    tensor = as_tensor(x)
    x[0, 0] = 12345.0
    assert float(tensor[0, 0]) == 12345.0  # the same memory: no copy


@pytest.mark.parametrize("shape", [(0,), (1,), (7, 3), (1000, 9), (0, 4)])
def test_aligned_empty_is_aligned_whatever_the_shape(shape):
    values = aligned_empty(shape)
    assert values.shape == shape and values.dtype == np.float32
    assert values.flags.c_contiguous and values.flags.writeable
    assert values.ctypes.data % ALIGNMENT == 0 or values.size == 0


def test_no_float64_matrix_is_ever_built(prepared_dir, tmp_path):
    """The peak of NumPy allocations stays below one float64 copy of the inputs."""
    rows = frame(200_000, 9)
    rows.to_parquet(prepared_dir / part_file("train"), index=False)
    prepared = load_prepared(prepared_dir)
    tracemalloc.start()
    try:
        x, _ = design_matrix(prepared, "train", TrainingConfig(epochs=1, batch_size=32))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    float64_matrix = len(rows) * len(FEATURES) * 8
    assert x.nbytes == float64_matrix // 2
    assert peak < 0.9 * float64_matrix, f"peak {peak / 1e6:.1f} MB"


def test_part_files_read_each_partition_afresh_as_pandas_does(prepared_dir):
    parts = load_prepared(prepared_dir).parts
    assert isinstance(parts, PartFiles) and list(parts) == list(PARTS) and len(parts) == 3
    for part in PARTS:
        pd.testing.assert_frame_equal(parts[part], pd.read_parquet(prepared_dir / part_file(part)))
    assert parts["train"] is not parts["train"]  # nothing kept between accesses
    with pytest.raises(KeyError):
        parts["holdout"]


def test_read_part_keeps_a_stored_index_and_column_types(tmp_path):
    rows = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"], "n": [1, 2]}, index=[5, 6])
    rows.to_parquet(tmp_path / "with_index.parquet")
    rows.to_parquet(tmp_path / "plain.parquet", index=False)
    for name in ("with_index.parquet", "plain.parquet"):
        pd.testing.assert_frame_equal(read_part(tmp_path / name), pd.read_parquet(tmp_path / name))


def test_target_values_reads_the_target_column_alone(prepared_dir):
    prepared = load_prepared(prepared_dir)
    for part in PARTS:
        want = pd.read_parquet(prepared_dir / part_file(part))["target"].to_numpy(dtype="float64")
        np.testing.assert_array_equal(target_values(prepared, part), want)


def test_training_inputs_with_cluster_similarity_are_the_served_models_inputs(tmp_path):
    """The design matrix (training, evaluation) and the served model's encoding
    (with_similarities, then standardize) give the same numbers, similarity columns last."""
    from pipeline.data.features import with_similarities

    parts = {
        part: frame(rows, seed) for seed, (part, rows) in enumerate(zip(PARTS, (300, 80, 80), strict=True))
    }
    clusters = {"columns": ["a", "b"], "clusters": 3, "gamma": 1e-8, "seed": 0}
    schema = {"encoded_features": FEATURES, "target": "target", "numeric": ["a", "b"], "categorical": {}}
    schema |= {"cluster_similarity": clusters}
    for part, rows in parts.items():
        rows.to_parquet(tmp_path / part_file(part), index=False)
    write_json(tmp_path / SCHEMA_FILE, schema)
    write_json(tmp_path / SCALER_FILE, fit_scaler(parts["train"], schema))
    write_json(tmp_path / MANIFEST_FILE, {"rows": {p: len(f) for p, f in parts.items()}})
    prepared = load_prepared(tmp_path)
    training = TrainingConfig(epochs=1, batch_size=32)
    x, _ = design_matrix(prepared, "test", training)
    assert x.shape == (80, len(FEATURES) + 3)
    served = with_similarities(parts["test"][FEATURES], prepared.scaler["clusters"]).to_numpy()
    want = standardize(served, prepared.scaler["features"]).astype("float32")
    assert x.tobytes() == want.tobytes()
    assert np.ptp(x[:, -3:], axis=0).min() > 0.5  # the similarities vary: gamma suits b's spread
