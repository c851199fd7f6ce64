"""The fused training loop's input tensors (pipeline.model.engine.as_tensor): TensorFlow
shares what it can use in place and gets a copy of anything else."""

from __future__ import annotations

import numpy as np

from pipeline.data.prepared import aligned_empty
from pipeline.model.engine import as_tensor


def test_as_tensor_copies_what_tensorflow_cannot_share():
    unaligned = aligned_empty((10 * 4 + 1,))[1:].reshape(10, 4)
    unaligned[:] = 1.0
    for values in (unaligned, np.ones((10, 4)), np.ones((10, 4), np.float32)[:, :2]):
        tensor = as_tensor(values)
        assert tensor.dtype.name == "float32"
        np.testing.assert_array_equal(np.asarray(tensor), values.astype("float32"))
    copied = as_tensor(unaligned)
    unaligned[0, 0] = 7.0
    assert float(copied[0, 0]) == 1.0
