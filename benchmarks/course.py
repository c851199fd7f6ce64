"""The course's plain Keras script: `Sequential` + `model.fit(validation_data=...)`, no tracking.

    python benchmarks/course.py SPEC.json

SPEC: {"data": "<.npz with x, y, xv, yv>", "jobs": [JOB, ...], "result": "<.json>"}, a JOB as
`common.course_job` writes it from a composed config. Run as its own process it imports only
Keras and NumPy, as a course script does; the benchmarks also import `fit` to time it in theirs.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def optimizer(spec: dict[str, Any]) -> Any:
    """What a course script writes for the configured optimizer (no schedules)."""
    import keras

    name, lr = spec["name"], spec["learning_rate"]
    if name in ("sgd", "momentum"):
        return keras.optimizers.SGD(lr, momentum=spec["momentum"], nesterov=spec["nesterov"])
    if name == "rmsprop":
        return keras.optimizers.RMSprop(lr, momentum=spec["momentum"])
    return {"adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW, "nadam": keras.optimizers.Nadam}[
        name
    ](lr)


def fit(job: dict[str, Any], x: Any, y: Any, xv: Any, yv: Any, **compile_args: Any) -> tuple[float, Any]:
    """Build, compile and fit the network; seconds from building it to the end of fit, and
    Keras's history. `compile_args` go to `model.compile` (steps_per_execution, jit_compile)."""
    import keras

    started = time.perf_counter()
    keras.utils.set_random_seed(job["seed"])
    init = job["initializer"]
    layers: list[Any] = [keras.Input(shape=(x.shape[1],))]
    layers += [
        keras.layers.Dense(u, activation=job["activation"], kernel_initializer=init) for u in job["units"]
    ]
    layers.append(keras.layers.Dense(1, kernel_initializer=init))
    model = keras.Sequential(layers)
    model.compile(optimizer=optimizer(job["optimizer"]), loss="mse", metrics=["mse"], **compile_args)
    history = model.fit(
        x, y, batch_size=job["batch_size"], epochs=job["epochs"], validation_data=(xv, yv), verbose=0
    )
    return time.perf_counter() - started, history.history


def main(spec_file: str) -> None:
    started = time.perf_counter()
    import keras
    import numpy as np

    import_s = time.perf_counter() - started
    spec = json.loads(open(spec_file).read())
    data = np.load(spec["data"])
    x, y, xv, yv = (data[k] for k in ("x", "y", "xv", "yv"))
    fits = []
    for job in spec["jobs"]:
        seconds, history = fit(job, x, y, xv, yv)
        fits.append({"seconds": seconds, "val_mse": float(history["val_mse"][-1])})
        keras.utils.clear_session(free_memory=True)
    with open(spec["result"], "w") as out:
        json.dump({"import_s": import_s, "fits": fits, "fits_s": sum(f["seconds"] for f in fits)}, out)


if __name__ == "__main__":
    main(sys.argv[1])
