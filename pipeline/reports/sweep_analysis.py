"""What a sweep says beyond its table: whether the best variant's lead over the second holds
seed by seed (a paired t-test and its interval), which parameter mattered in a search,
learning curves averaged over seeds (the swept parameters against the objective in one
picture: pipeline.reports.parallel_coordinates).

Every function takes the comparison's table (pipeline.reports.comparison): one row per run,
the varying params as columns (strings, as MLflow keeps them), the metric, `run`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.reports.canvas import TITLE_Y, figure, finish, save, whole_epochs
from pipeline.reports.paired_test import paired_test

SEED = "training.seed"
LOG_SCALE_PARAMS = ("learning_rate", "l1", "l2", "decay_rate", "min_delta")  # spans decades
IMPORTANCE_MIN_RUNS = 8  # a search this small says nothing about importance
IMPORTANCE_METHOD = (
    "random-forest impurity importance (scikit-learn, 300 trees, log10 of rates and penalties)"
)


def swept(frame: pd.DataFrame) -> list[str]:
    """The varying params of the table, the seed left out."""
    return [c for c in frame.columns if "." in c and c != SEED]


def numeric(frame: pd.DataFrame, column: str) -> pd.Series | None:
    """The column as numbers (log10 for rates and penalties that are all positive), or None
    when it is not numeric."""
    values = pd.to_numeric(frame[column], errors="coerce")
    if values.isna().any():
        return None
    if column.rsplit(".", 1)[-1] in LOG_SCALE_PARAMS and (values > 0).all():
        return np.log10(values)
    return values


def ordered(values: Iterable[str]) -> list[str]:
    """The distinct values in their natural order: lists of numbers (`[8]`, `[64, 64]`) and
    numbers by size, then anything else alphabetically."""
    import ast

    def key(text: str) -> tuple[int, tuple[float, ...], str]:
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return (1, (), text)
        items = parsed if isinstance(parsed, list | tuple) else [parsed]
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in items):
            return (0, (len(items), *items), text)
        return (1, (), text)

    return sorted(set(values), key=key)


def variant_name(row: pd.Series, keys: list[str]) -> str:
    """`adam` when one parameter is swept; `name=adam initializer=he_normal` for several."""
    if len(keys) == 1:
        return str(row[keys[0]])
    return " ".join(f"{k.rsplit('.', 1)[-1]}={row[k]}" for k in keys) or "all"


def paired_verdict(frame: pd.DataFrame, metric: str) -> str | None:
    """For runs repeated over seeds: the best variant (lowest mean `metric`) against the
    second, seed by seed, in one sentence: on how many shared seeds it is lower, the mean
    paired difference, its 95 % t interval and the paired t-test's p-value
    (pipeline.reports.paired_test). `X beats Y` only when p < 0.05; otherwise `cannot tell X
    from Y with N seeds` and about how many seeds would settle it; `tie` when they are equal
    on every seed. None without two variants sharing two seeds."""
    keys = swept(frame)
    if SEED not in frame.columns or metric not in frame.columns or not keys:
        return None
    data = frame[np.isfinite(pd.to_numeric(frame[metric], errors="coerce"))]
    names = data.apply(lambda row: variant_name(row, keys), axis=1)
    table = data.assign(variant=names).pivot_table(
        index="variant", columns=SEED, values=metric, aggfunc="mean"
    )
    if len(table) < 2:
        return None
    order = table.mean(axis=1).sort_values().index
    best, second = table.loc[order[0]], table.loc[order[1]]
    shared = best.notna() & second.notna()
    if shared.sum() < 2:
        return None
    test = paired_test(best[shared].to_numpy(float), second[shared].to_numpy(float))
    if test is None:
        return None
    wins = int((second[shared] > best[shared]).sum())
    if test.tie:
        return f"{order[0]} and {order[1]} tie: the same {metric} on each of {test.n} seeds"
    by = f"{test.mean:.3g} in {metric} (lower is better; {test.interval()})"
    if test.leads:
        return f"{order[0]} beats {order[1]} on {wins} of {test.n} seeds by {by}"
    return (
        f"cannot tell {order[0]} from {order[1]} with {test.n} seeds: {order[0]} lower on {wins} "
        f"of {test.n} by {by}; {test.settle()}"
    )


def terminal_verdict(frame: pd.DataFrame, metric: str, width: int) -> str | None:
    """`seed by seed: ` and the paired verdict, wrapped to `width` columns (two lines at 120
    for the usual names); None when there is no verdict."""
    import textwrap

    verdict = paired_verdict(frame, metric)
    return textwrap.fill(f"seed by seed: {verdict}", width, break_on_hyphens=False) if verdict else None


def parameter_importance(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """For a search (IMPORTANCE_MIN_RUNS runs or more with a finite `metric`): each numeric
    swept parameter's share of a random forest's impurity importance in predicting the
    metric from the parameters, largest first (IMPORTANCE_METHOD). Empty otherwise."""
    from sklearn.ensemble import RandomForestRegressor

    data = frame[np.isfinite(pd.to_numeric(frame.get(metric), errors="coerce"))] if metric in frame else frame
    columns = {c: numeric(data, c) for c in swept(data)}
    columns = {c: v for c, v in columns.items() if v is not None and v.nunique() > 1}
    if len(data) < IMPORTANCE_MIN_RUNS or not columns:
        return pd.DataFrame(columns=["parameter", "importance"])
    x = pd.DataFrame(columns).to_numpy()
    forest = RandomForestRegressor(n_estimators=300, random_state=0, min_samples_leaf=2)
    forest.fit(x, pd.to_numeric(data[metric]).to_numpy())
    found = pd.DataFrame({"parameter": list(columns), "importance": forest.feature_importances_})
    return found.sort_values("importance", ascending=False).reset_index(drop=True)


def seed_bands(
    frame: pd.DataFrame, curves: dict[str, list[tuple[int, float]]]
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per variant repeated over seeds: the epochs its runs share, and the mean and standard
    deviation of their curves (`curves` by run id) there."""
    keys = swept(frame)
    if SEED not in frame.columns:
        return {}
    bands = {}
    for name, group in frame.groupby(frame.apply(lambda row: variant_name(row, keys), axis=1), sort=False):
        series = [dict(curves.get(run, [])) for run in group["run_id"]]
        epochs = sorted(set.intersection(*(set(s) for s in series))) if series else []
        if len(series) < 2 or not epochs:
            continue
        values = np.array([[s[e] for e in epochs] for s in series])
        bands[str(name)] = (np.array(epochs), values.mean(axis=0), values.std(axis=0, ddof=1))
    return bands


def seed_bands_figure(bands: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> Any:
    """One line per variant, the mean over seeds, in a band of +/- one standard deviation."""
    fig, axes = figure(1, 1, (9, 5.5))
    ax = axes[0, 0]
    for name, (epochs, mean, std) in bands.items():
        (line,) = ax.plot(epochs, mean, label=name, linewidth=1.6)
        ax.fill_between(epochs, np.maximum(mean - std, 1e-12), mean + std, color=line.get_color(), alpha=0.2)
    ax.set_yscale("log")
    whole_epochs(ax)
    ax.set_xlabel("epoch")
    ax.set_ylabel("val_loss: mean over seeds, +/- one standard deviation")
    ax.set_title("Learning curves over seeds, one band per variant", y=TITLE_Y)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return finish(fig)


def plot_seed_bands(bands: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], path: Path) -> Path:
    """`seed_bands_figure` written to `path`."""
    return save(seed_bands_figure(bands), path)


def analysis_text(frame: pd.DataFrame, metric: str) -> str:
    """The Markdown section of the comparison: the paired verdict and the importances."""
    lines = []
    verdict = paired_verdict(frame, metric)
    if verdict:
        lines += ["## Best against second, seed by seed", "", verdict, ""]
    importance = parameter_importance(frame, metric)
    if not importance.empty:
        lines += ["## Which parameter mattered", "", f"Method: {IMPORTANCE_METHOD}.", ""]
        lines += [f"- `{r.parameter}`: {r.importance:.2f}" for r in importance.itertuples()]
        lines.append("")
    return "\n".join(lines)
