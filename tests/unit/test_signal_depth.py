"""The signal-through-depth profile (pipeline.reports.signal_depth) from made-up runs: step 0
from the metric history, the end from the run's last values, shallow runs left out."""

from __future__ import annotations

from pipeline.reports.canvas import outside
from pipeline.reports.signal_depth import (
    depth_profiles,
    hidden_depth,
    plot_signal_through_depth,
    signal_through_depth_figure,
)
from pipeline.tracking.queries import RunSummary


def deep_run(name: str, depth: int, end: float) -> RunSummary:
    metrics = {f"diag/hidden_{i}/act_std": end for i in range(1, depth + 1)}
    metrics |= {f"diag/hidden_{i}/grad_norm": end for i in range(1, depth + 1)}
    metrics["diag/output/grad_norm"] = end
    return RunSummary(name, name, "FINISHED", {}, metrics, {}, 0)


def test_profiles_read_step_0_from_the_history_and_the_end_from_the_last_values(tmp_path) -> None:
    runs = [deep_run("he", 4, 0.5), deep_run("shallow", 2, 0.5)]

    def history(run_id: str, key: str) -> list[tuple[int, float]]:
        layer = key.split("/")[1]
        depth = 5 if layer == "output" else int(layer.split("_")[1])
        return [(0, 2.0**-depth), (1, 99.0)]  # halves with depth at the start

    profiles = depth_profiles(runs, history)
    assert list(profiles) == ["he"] and hidden_depth(runs[0]) == 4  # 2 layers are too shallow to say
    assert profiles["he"]["act_std_start"] == [0.5, 0.25, 0.125, 0.0625]
    assert profiles["he"]["grad_start"] == [0.5, 0.25, 0.125, 0.0625, 0.03125]  # the output last
    assert profiles["he"]["act_std_end"] == [0.5] * 4
    assert plot_signal_through_depth(profiles, tmp_path / "s.png").stat().st_size > 0
    activations, gradients = signal_through_depth_figure(profiles).axes
    start, end = activations.get_lines()  # at initialization solid, after training dashed
    assert start.get_label() == "he" and list(start.get_xdata()) == [1, 2, 3, 4]
    assert list(start.get_ydata()) == [0.5, 0.25, 0.125, 0.0625] and list(end.get_ydata()) == [0.5] * 4
    assert end.get_linestyle() == "--" and end.get_color() == start.get_color()
    assert list(gradients.get_lines()[0].get_xdata()) == [1, 2, 3, 4, 5]  # the output last
    assert activations.get_yscale() == "log" and gradients.get_xlabel().endswith("last: the output")
    assert all(float(tick).is_integer() for tick in gradients.get_xticks())  # whole layers
    assert outside(activations.figure) == []


def test_a_run_without_a_step_0_has_no_profile() -> None:
    assert depth_profiles([deep_run("old", 4, 1.0)], lambda run_id, key: [(1, 1.0), (2, 0.5)]) == {}
