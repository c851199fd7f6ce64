"""The saved network: the same weights give the same bytes, whenever saved, and Keras loads it."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import keras
import numpy as np

from pipeline.core.config import ModelConfig
from pipeline.model.artifact import save_model
from pipeline.model.network import build_model


def network(seed: int) -> keras.Model:
    """The pipeline's network (its layers named, not numbered per process), seeded."""
    keras.utils.set_random_seed(seed)
    return build_model(3, ModelConfig(hidden_units=[4]))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_same_network_saved_at_two_times_is_the_same_file(tmp_path: Path) -> None:
    first = save_model(network(1), tmp_path / "a.keras")
    time.sleep(2.1)  # a zip entry's time has a 2-second resolution
    second = save_model(network(1), tmp_path / "b.keras")
    assert digest(first) == digest(second)
    plain = tmp_path / "plain.keras"
    network(1).save(plain)  # what Keras alone writes differs: it stamps the time of saving
    assert digest(plain) != digest(first)


def test_shared_objects_are_numbered_by_appearance_not_by_address() -> None:
    from pipeline.model.artifact import renumber_shared

    config = {
        "dtype": {"shared_object_id": 140669},
        "layers": [{"dtype": {"shared_object_id": 140669}}, {"x": {"shared_object_id": 99}}],
    }
    assert renumber_shared(config, {}) == {
        "dtype": {"shared_object_id": 0},
        "layers": [{"dtype": {"shared_object_id": 0}}, {"x": {"shared_object_id": 1}}],
    }


def test_other_weights_give_another_file_and_the_file_loads(tmp_path: Path) -> None:
    saved = save_model(network(1), tmp_path / "a.keras")
    assert digest(saved) != digest(save_model(network(2), tmp_path / "b.keras"))
    loaded = keras.saving.load_model(saved, safe_mode=True)
    x = np.ones((2, 3), dtype="float32")
    np.testing.assert_allclose(loaded(x), network(1)(x), rtol=1e-6)
