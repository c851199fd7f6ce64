"""The comparison as a terminal shows it: the columns that matter, fitted to its width.

The full table stays in comparison.md and comparison.csv; this is what is printed.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Sequence

import pandas as pd

SPREAD_COLUMNS = ("cv_val_mse_std", "cv_val_log_loss_std")
ACCURACY_COLUMNS = ("cv_val_accuracy_mean", "validation_accuracy")  # a classifier's, shown beside its loss
NAME_KEPT = 16  # run names are cut to this before any column is left out
NAME_MIN = 8  # and, when the columns kept still do not fit, no shorter than this
GAP = "  "


def terminal_width(fallback: int = 120) -> int:
    """The terminal's columns (`$COLUMNS` first), or `fallback` when the output is not one."""
    return shutil.get_terminal_size((fallback, 24)).columns


def headline_columns(frame: pd.DataFrame, metric: str) -> list[str]:
    """Run, the swept parameters, the objective, its spread, a classifier's accuracy, epochs
    and status: in the order they are shown."""
    varying = [c for c in frame.columns if "." in c]
    spread = [c for c in SPREAD_COLUMNS if c in frame.columns and c != metric]
    accuracy = [c for c in ACCURACY_COLUMNS if c in frame.columns][:1]
    wanted = ["run", *varying, metric, *spread, *accuracy, "epochs", "status"]
    return [c for c in dict.fromkeys(wanted) if c in frame.columns]


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    return "" if value is None else str(value)


def _short_names(columns: Sequence[str]) -> dict[str, str]:
    """`optimizer.learning_rate` shown as `learning_rate` (and `optimizer.name` as
    `optimizer`) when no other shown column would be shown so."""
    tails = [c.rsplit(".", 1)[-1] if not c.endswith(".name") else c.split(".")[-2] for c in columns]
    return {c: t if tails.count(t) == 1 else c for c, t in zip(columns, tails, strict=True)}


def fit_to_width(
    frame: pd.DataFrame, columns: Sequence[str], width: int, keep: Sequence[str] = ("run",)
) -> str:
    """`columns` of `frame` as aligned text no wider than `width`: the rightmost columns
    not in `keep` are left out (a note names them) once run names are cut to NAME_KEPT
    characters; then run names are cut further."""
    shown = [c for c in columns if c in frame.columns]
    headers = _short_names(shown)
    cells = {c: [_cell(v) for v in frame[c]] for c in shown}
    widths = {c: max([len(headers[c]), *map(len, cells[c])]) for c in shown}

    def total() -> int:
        return sum(widths[c] for c in shown) + len(GAP) * (len(shown) - 1)

    def cut_names(shortest: int) -> None:
        if "run" in shown and total() > width:
            widths["run"] = max(shortest, widths["run"] - (total() - width))

    cut_names(NAME_KEPT)
    left_out = []
    while total() > width:
        droppable = [c for c in shown if c not in keep]
        if not droppable:
            break
        left_out.insert(0, droppable[-1])
        shown.remove(droppable[-1])
    cut_names(NAME_MIN)
    lines = [GAP.join(headers[c].ljust(widths[c])[: widths[c]] for c in shown).rstrip()]
    for i in range(len(frame)):
        row = []
        for c in shown:
            text = cells[c][i]
            if len(text) > widths[c]:
                text = text[: widths[c] - 1] + "…"
            row.append(text.rjust(widths[c]) if _numeric(frame[c]) else text.ljust(widths[c]))
        lines.append(GAP.join(row).rstrip())
    if left_out:
        note = f"({len(left_out)} more in comparison.md: {', '.join(left_out)})"
        lines.append(note if len(note) <= width else note[: width - 1] + "…")
    return "\n".join(lines) + "\n"


def _numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column)
