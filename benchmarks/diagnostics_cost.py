"""Cost of per-epoch diagnostics: the lab setup fitted with diagnostics off and on.

    python benchmarks/diagnostics_cost.py [--repeats 2] [--data ../shared/data/dataset_Facebook.csv]

Prints, per network size, the best fit time of each setting and the relative cost
(docs/diagnostics.md). Run from the project root.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--data", default="../shared/data/dataset_Facebook.csv")
    parser.add_argument("--networks", nargs="*", default=["[8]", "[64,64,64]", "[256,256]"])
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from pipeline.compose import compose_config
    from pipeline.data import design_matrix, load_prepared
    from pipeline.model import build_model
    from pipeline.prepare import ensure_prepared
    from pipeline.train import fit

    cache = Path(tempfile.mkdtemp(prefix="diag-bench-"))
    base = ["dataset=facebook", f"dataset.path={args.data}", f"paths.prepared_cache={cache}"]
    print(f"{'network':<16}{'params':>9}{'off (s)':>10}{'on (s)':>10}{'cost':>8}")
    for network in args.networks:
        best = {}
        for setting in ("false", "true"):
            cfg = compose_config([*base, f"training.diagnostics={setting}", f"model.hidden_units={network}"])
            prepared = load_prepared(ensure_prepared(cfg))
            train = design_matrix(prepared, "train", cfg.training)
            validation = design_matrix(prepared, "validation", cfg.training)
            times = []
            for _ in range(args.repeats + 1):  # the first fit of a process includes tracing
                started = time.perf_counter()
                fit(cfg, train, validation)
                times.append(time.perf_counter() - started)
            best[setting] = min(times[1:])
        params = build_model(train[0].shape[1], cfg.model).count_params()
        cost = best["true"] / best["false"] - 1
        print(f"{network:<16}{params:>9,}{best['false']:>10.3f}{best['true']:>10.3f}{cost:>8.0%}")


if __name__ == "__main__":
    main()
