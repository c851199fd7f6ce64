"""Which way of training the lab network is fastest in a warm process, and does the project's
fused loop reach the same validation MSE as `model.fit`?

    python benchmarks/fast_paths.py [--epochs 100] [--repeats 3] [--json fast_paths.json]

In one process, on the same prepared, scaled arrays (Facebook data, Dense(8, relu) + Dense(1),
SGD lr 0.01, batch 32, validation every epoch):

  fit          the course: `model.fit(validation_data=...)`
  fit_spe_jit  `fit` compiled with `steps_per_execution` = the steps of an epoch and `jit_compile=True`
  fit_autolog  `fit` under `mlflow.keras.autolog(log_models=False)`, its run in a temporary store
  fused        the project's loop, `pipeline.model.training.fit` (one compiled call per epoch,
               its per-epoch diagnostics on, as `training.diagnostics: auto` has them here)

Each is timed from building the network to the end of training, after one untimed 2-epoch
warm-up each; the variants are interleaved. TensorFlow starts with its defaults (a course
script's): its thread count is fixed then, so the fused loop runs with them too, not with
the project's `training.threads: 1`; grappler is switched back on before each Keras fit.
"""

from __future__ import annotations

import math
import time
from typing import Any

from common import (
    arrays,
    compose,
    course_job,
    environment,
    fmt,
    interleaved,
    median,
    parser,
    ratio,
    report,
    workspace,
)


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--epochs", type=int, default=100, help="epochs per fit (default 100, the lab)")
    p.add_argument("--tolerance", type=float, default=0.05, help="relative val MSE gap called close")
    args = p.parse_args()
    results: dict[str, Any] = {"environment": environment(), "epochs": args.epochs, "repeats": args.repeats}
    import course
    import keras
    import mlflow
    import tensorflow as tf

    from pipeline.model.training import fit as fused_fit

    tf.constant(0.0)  # TensorFlow's runtime starts here, with its default threads
    tf.get_logger().setLevel("ERROR")
    with workspace(args) as ws:
        cfg = compose(ws.lab(args.epochs))
        x, y, xv, yv = arrays(cfg)
        steps = math.ceil(len(x) / cfg.training.batch_size)
        mlflow.set_tracking_uri(ws.uri)
        experiment = ws.create_experiment("course-autolog")

        def keras_fit(epochs: int, **compile_args: Any) -> dict[str, Any]:
            keras.utils.clear_session(free_memory=True)
            tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": False})
            seconds, history = course.fit(course_job(cfg) | {"epochs": epochs}, x, y, xv, yv, **compile_args)
            return {"seconds": seconds, "val_mse": float(history["val_mse"][-1])}

        def autolog(epochs: int) -> dict[str, Any]:
            mlflow.keras.autolog(log_models=False, silent=True)
            try:
                started = time.perf_counter()
                with mlflow.start_run(experiment_id=experiment):
                    out = keras_fit(epochs)
                out["seconds"] = time.perf_counter() - started  # the run's start and end included
            finally:
                mlflow.keras.autolog(disable=True)
            return out

        def fused(epochs: int) -> dict[str, Any]:
            keras.utils.clear_session(free_memory=True)
            training = cfg.training.model_copy(update={"epochs": epochs})
            started = time.perf_counter()
            result = fused_fit(cfg.model, cfg.optimizer, training, (x, y), (xv, yv))
            return {"seconds": time.perf_counter() - started, "val_mse": float(result.history[-1]["val_mse"])}

        variants = {
            "fit": lambda epochs: keras_fit(epochs),
            "fit_spe_jit": lambda epochs: keras_fit(epochs, steps_per_execution=steps, jit_compile=True),
            "fit_autolog": autolog,
            "fused": fused,
        }
        print("warm-up (2 epochs each, untimed) ...", flush=True)
        results["warmup_s"] = {name: run(2)["seconds"] for name, run in variants.items()}
        timed = interleaved(
            {name: lambda run=run: run(args.epochs) for name, run in variants.items()}, args.repeats
        )
        results["autolog_runs_finished"] = sum(r.info.status == "FINISHED" for r in ws.runs("course-autolog"))
    results["variants"] = {
        name: {
            "seconds": [r["seconds"] for r in reps],
            "median_s": median([r["seconds"] for r in reps]),
            "val_mse": [r["val_mse"] for r in reps],
        }
        for name, reps in timed.items()
    }
    v = results["variants"]
    course_s = v["fit"]["median_s"]
    results["ratios_to_fit"] = {name: ratio(row["median_s"], course_s) for name, row in v.items()}
    fit_mse, fused_mse = median(v["fit"]["val_mse"]), median(v["fused"]["val_mse"])
    gap = abs(fused_mse - fit_mse) / fit_mse
    results["fused_vs_fit"] = {"fit_val_mse": fit_mse, "fused_val_mse": fused_mse, "relative_gap": gap}
    results["fused_vs_fit"] |= {"close": gap <= args.tolerance, "tolerance": args.tolerance}
    labels = {
        "fit": "model.fit (the course)",
        "fit_spe_jit": f"fit, steps_per_execution={steps}, jit_compile",
        "fit_autolog": "fit + mlflow.keras.autolog(log_models=False)",
        "fused": "fused loop (pipeline.model.training.fit)",
    }
    lines = [
        f"lab network, {len(x)} training rows, batch {cfg.training.batch_size} ({steps} steps/epoch), "
        f"{args.epochs} epochs; medians of {args.repeats}, one warm process",
        f"  {'variant':<48} {'s per fit':>9} {'/ fit':>6} {'val MSE':>8}",
    ]
    for name, row in v.items():
        lines.append(
            f"  {labels[name]:<48} {fmt(row['median_s'], '.3f'):>9} {fmt(results['ratios_to_fit'][name]):>6} "
            f"{fmt(median(row['val_mse']), '.4f'):>8}"
        )
    close = "close" if results["fused_vs_fit"]["close"] else "NOT close"
    lines.append(
        f"  fused loop's final val MSE {fused_mse:.4f} vs fit's {fit_mse:.4f}: {gap:.1%} apart, {close} "
        f"(tolerance {args.tolerance:.0%}; the same steps, a different shuffle)"
    )
    report(results, lines, args.json)


if __name__ == "__main__":
    main()
