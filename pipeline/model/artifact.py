"""The trained network as a file: Keras' `.keras` archive, the same bytes for the same network.

`model.save` stamps the archive with the time of saving (the weights entry's time and
`date_saved` in metadata.json) and numbers objects shared between layers by their memory
address (`shared_object_id` in config.json), so two identical trainings give two different
files and `dvc.lock` cannot tell they agree. `save_model` rewrites the archive with every
entry at the zip format's earliest time, no save date, and shared objects numbered 0, 1, ...
in the order they appear; Keras loads it as before.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import keras

FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold (Keras' own for two entries)
METADATA = "metadata.json"
CONFIG = "config.json"
SHARED_ID = "shared_object_id"


def renumber_shared(tree: Any, numbers: dict[int, int]) -> Any:
    """`tree` with each `shared_object_id` replaced by its rank of first appearance."""
    if isinstance(tree, dict):
        out = {k: renumber_shared(v, numbers) for k, v in tree.items()}
        if SHARED_ID in out:
            out[SHARED_ID] = numbers.setdefault(out[SHARED_ID], len(numbers))
        return out
    if isinstance(tree, list):
        return [renumber_shared(v, numbers) for v in tree]
    return tree


def save_model(model: keras.Model, path: Path) -> Path:
    """Save `model` to `path` (`.keras`) so that the same architecture and weights always give
    the same bytes; return `path`."""
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        entries = [(info, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w") as archive:
        for info, data in entries:
            if info.filename == METADATA:
                metadata = json.loads(data)
                metadata.pop("date_saved", None)
                data = json.dumps(metadata).encode()
            elif info.filename == CONFIG:
                data = json.dumps(renumber_shared(json.loads(data), {})).encode()
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME)
            fixed.compress_type, fixed.external_attr = info.compress_type, info.external_attr
            archive.writestr(fixed, data)
    return path


def load_model(path: Path) -> keras.Model:
    """The network saved at `path` by `save_model` (safe mode: no arbitrary code runs)."""
    return keras.saving.load_model(path, safe_mode=True)
