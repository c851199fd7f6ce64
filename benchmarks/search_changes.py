"""What does each change of `tuned_search` buy over `random_search`, over sampler seeds?

    python benchmarks/search_changes.py [--seeds 42,1,2] [--jobs 2] [--trials 10] [--epochs 100]

Lesson 7's search at the same budget (10 trials x 3-fold CV x at most 100 epochs, early
stopping patience 10, California housing from ../shared/data/housing.csv) in the same space,
from `random_search` (the course's) to `tuned_search`, one change at a time: Adam with elu
units and he_normal; log(1 + x) of the skewed counts; the similarity to k-means centers of
the coordinates; the TPE sampler. Each variant runs once per sampler seed; printed: every
search's best 3-fold CV RMSE in dollars, then per variant the mean and spread over seeds and
the difference to random_search. Target (issue 17): a preset whose best is 51,000 dollars
or lower.
"""

from __future__ import annotations

import csv
import json
import statistics
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import SHARED, parser, workspace

HOUSING = SHARED / "housing.csv"
MODEL = ["optimizer=adam", "model.activation=elu", "model.initializer=he_normal"]
LOGGED = ["dataset.log_features=[total_rooms,total_bedrooms,population,households]"]
CLUSTERS = ["dataset.cluster_similarity.columns=[latitude,longitude]"]
VARIANTS = {  # each adds one change to the one before; the last is the preset itself
    "random_search": ["+experiment=random_search"],
    "+ adam, elu, he_normal": ["+experiment=random_search", *MODEL],
    "+ log(1 + x) of the counts": ["+experiment=random_search", *MODEL, *LOGGED],
    "+ cluster similarity": ["+experiment=random_search", *MODEL, *LOGGED, *CLUSTERS],
    "tuned_search (+ TPE)": ["+experiment=tuned_search"],
}
TARGET = 51_000.0


def best_score(sweep_dir: Path) -> float:
    """The lowest `cv_val_rmse_original_mean` of the sweep's comparison table."""
    with open(sweep_dir / "comparison" / "comparison.csv", encoding="utf-8") as handle:
        return min(float(row["cv_val_rmse_original_mean"]) for row in csv.DictReader(handle))


def main() -> None:
    args_parser = parser(__doc__, repeats=None)
    args_parser.add_argument("--seeds", default="42,1,2", help="sampler seeds (default 42,1,2)")
    args_parser.add_argument("--jobs", type=int, default=2, help="searches at once (default 2)")
    args_parser.add_argument(
        "--trials", type=int, default=10, help="trials a search (default 10, the presets')"
    )
    args_parser.add_argument(
        "--epochs", type=int, default=100, help="the epoch cap (default 100, the presets')"
    )
    args = args_parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    with workspace(args) as ws:
        ws.create_experiment()

        def search(variant: str, seed: int) -> float:
            label = f"variant{list(VARIANTS).index(variant)}-seed{seed}"
            sweep_dir = ws.tmp / "sweeps" / label
            command = ["python", "-m", "pipeline.run", "-m", *VARIANTS[variant], f"dataset.path={HOUSING}"]
            command += [*ws.overrides, f"hydra.sweeper.sampler.seed={seed}", f"hydra.sweep.dir={sweep_dir}"]
            command += [f"hydra.sweeper.n_trials={args.trials}", f"training.epochs={args.epochs}"]
            wall = ws.run(command, label)
            score = best_score(sweep_dir)
            print(f"{variant}, sampler seed {seed}: best CV RMSE {score:,.0f} $ ({wall:.0f} s)", flush=True)
            return score

        cases = [(variant, seed) for seed in seeds for variant in VARIANTS]
        with ThreadPoolExecutor(args.jobs) as pool:
            scores = dict(zip(cases, pool.map(lambda case: search(*case), cases), strict=True))
    results = {}
    baseline = statistics.fmean(scores[("random_search", s)] for s in seeds)
    for variant in VARIANTS:
        values = [scores[(variant, s)] for s in seeds]
        mean, spread = statistics.fmean(values), statistics.pstdev(values)
        by_seed = dict(zip(map(str, seeds), values, strict=True))
        results[variant] = {"best_by_seed": by_seed, "mean": mean, "std": spread}
        print(
            f"{variant}: mean best {mean:,.0f} +/- {spread:,.0f} $ over seeds {args.seeds}; "
            f"{mean - baseline:+,.0f} $ against random_search; best of all {min(values):,.0f} "
            f"(target {TARGET:,.0f}: {'met' if min(values) <= TARGET else 'not met'})"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
