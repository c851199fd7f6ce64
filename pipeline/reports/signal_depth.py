"""The signal through depth: per run, each hidden layer's activation spread and each
kernel's gradient norm against the layer's depth, at initialization (step 0) and at the
end of training, one line per run (the signal_propagation preset's picture)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pipeline.reports.canvas import TITLE_Y, figure, finish, save, whole_epochs
from pipeline.tracking.queries import RunSummary

MIN_DEPTH = 3  # hidden layers a run needs for its profile to say anything
FLOOR = 1e-12  # zeros (a zero-initialized network's) are drawn here on the log scale
Profile = dict[str, list[float]]  # act_std_start, act_std_end, grad_start, grad_end


def hidden_depth(run: RunSummary) -> int:
    """How many hidden layers the run's diagnostics cover (0 without diagnostics)."""
    found = [int(m.group(1)) for k in run.metrics if (m := re.fullmatch(r"diag/hidden_(\d+)/act_std", k))]
    return max(found, default=0)


def depth_profiles(
    runs: Sequence[RunSummary], history: Callable[[str, str], list[tuple[int, float]]]
) -> dict[str, Profile]:
    """run name -> its profile through depth: the hidden layers' `act_std` and the kernels'
    (hidden layers, then the output) `grad_norm`, at step 0 (from the metric history) and
    at the end (the run's last values). Runs with fewer than MIN_DEPTH hidden layers, or
    without a step 0, are left out."""
    profiles: dict[str, Profile] = {}
    for run in runs:
        depth = hidden_depth(run)
        if depth < MIN_DEPTH:
            continue
        layers = [f"hidden_{i}" for i in range(1, depth + 1)]
        keys = {
            "act_std": [f"diag/{layer}/act_std" for layer in layers],
            "grad": [f"diag/{layer}/grad_norm" for layer in [*layers, "output"]],
        }
        profile: Profile = {}
        for name, names in keys.items():
            starts = [dict(history(run.run_id, key)).get(0) for key in names]
            if any(value is None for value in starts):
                break
            profile[f"{name}_start"] = [float(v) for v in starts if v is not None]
            profile[f"{name}_end"] = [float(run.metrics.get(key, float("nan"))) for key in names]
        else:
            profiles[run.name] = profile
    return profiles


def signal_through_depth_figure(profiles: dict[str, Profile]) -> Any:
    """Two panels against depth, log scale: the activations' standard deviation and the
    kernel gradient norm; solid at initialization, dashed after training."""
    fig, axes = figure(1, 2, (15, 6))
    panels = (("act_std", "activations' standard deviation"), ("grad", "kernel gradient norm"))
    for ax, (quantity, label) in zip(axes[0], panels, strict=True):
        for name, profile in profiles.items():
            start = [max(v, FLOOR) for v in profile[f"{quantity}_start"]]
            depth = range(1, len(start) + 1)
            (line,) = ax.plot(depth, start, marker="o", markersize=3, linewidth=1.6, label=name)
            end = [max(v, FLOOR) for v in profile[f"{quantity}_end"]]
            ax.plot(depth, end, linestyle="--", linewidth=1, color=line.get_color())
        ax.set_yscale("log")
        whole_epochs(ax)  # layers: whole numbers too
        ax.set_xlabel("layer (1 = next to the input)" + ("; last: the output" if quantity == "grad" else ""))
        ax.set_ylabel(f"{label} (0 drawn at {FLOOR:g})")
        ax.set_title(f"{label}: at initialization (solid), after training (dashed)", y=TITLE_Y)
        ax.grid(True, alpha=0.3)
    axes[0, 0].legend(fontsize=7, ncol=2)
    return finish(fig)


def plot_signal_through_depth(profiles: dict[str, Profile], path: Path) -> Path:
    """`signal_through_depth_figure` written to `path`."""
    return save(signal_through_depth_figure(profiles), path)
