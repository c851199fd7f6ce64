"""`make check-lock` after `dvc repro` in a clean checkout: is the committed `dvc.lock` stale, or
did only the outputs move in their last digits, as they do on another CPU?

oneDNN picks its kernels by the CPU's instruction set, so the same code, data and params give
the same bytes on the same CPU and, elsewhere, a model (and so `dvc.lock`) that differs in its
last bits, with metrics that agree to about 1e-8 relative. This module tells the cases apart:

- stale: a stage's command, a dependency that no stage makes (code, data) or a params value
  differs from the committed lock (exit 1);
- only outputs differ and every metric dvc.yaml declares agrees with the committed one to
  `RELATIVE` (or to one unit of the last of the `METRIC_DIGITS` significant digits the reports
  keep, which a difference of 1e-8 can flip): exit 0;
- outputs differ and a metric does not agree: exit 1;
- a changed file that is neither `dvc.lock` nor a stage output: exit 1.

It reads and restores nothing: what `dvc repro` wrote stays for `git diff` to show.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from pipeline.core.io import METRIC_DIGITS

RELATIVE = 1e-6  # how closely the metrics must agree with the committed ones
LOCK = "dvc.lock"


def flat(data: Any, prefix: str = "") -> dict[str, Any]:
    """{dotted key: leaf value} of nested dicts (lists are leaves)."""
    if not isinstance(data, dict):
        return {prefix: data}
    out: dict[str, Any] = {}
    for key, value in data.items():
        out |= flat(value, f"{prefix}.{key}" if prefix else str(key))
    return out


def hashes(entries: list[dict[str, Any]] | None) -> dict[str, str | None]:
    """{path: md5} of a stage's deps or outs in a lock."""
    return {entry["path"]: entry.get("md5") for entry in entries or []}


def stage_inputs(lock: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per stage, what it was made from: its command, its params and the md5 of each
    dependency that no stage of the lock makes (the code, the data)."""
    made = set(outputs(lock))
    inputs = {}
    for name, stage in lock.get("stages", {}).items():
        found: dict[str, Any] = {"command": stage.get("cmd")}
        for path, md5 in hashes(stage.get("deps")).items():
            if path not in made:
                found[f"dependency {path}"] = md5
        for file, values in (stage.get("params") or {}).items():
            found |= {
                f"param {key}" + ("" if file == "params.yaml" else f" ({file})"): v
                for key, v in flat(values).items()
            }
        inputs[name] = found
    return inputs


def stale(committed: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Why `committed` does not describe what `new` was made from ("stage train's dependency
    pipeline/model"); empty when every stage's command, inputs and params are the same."""
    before, after = stage_inputs(committed), stage_inputs(new)
    reasons = [f"stage {name} is not in the committed {LOCK}" for name in after if name not in before]
    reasons += [f"stage {name} of the committed {LOCK} is gone" for name in before if name not in after]
    for name in (n for n in after if n in before):
        keys = sorted(set(before[name]) | set(after[name]))
        reasons += [f"stage {name}'s {key}" for key in keys if before[name].get(key) != after[name].get(key)]
    return reasons


def outputs(lock: dict[str, Any]) -> dict[str, str | None]:
    """{path: md5} of every stage's outputs in a lock."""
    stages = lock.get("stages", {}).values()
    return {path: md5 for stage in stages for path, md5 in hashes(stage.get("outs")).items()}


def changed_outputs(committed: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The outputs whose md5 in `new` differs from `committed`."""
    before, after = outputs(committed), outputs(new)
    return sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))


def last_digit(value: float, digits: int = METRIC_DIGITS) -> float:
    """One unit of the last of `digits` significant digits of `value` (0.0 for 0)."""
    return 10.0 ** (math.floor(math.log10(abs(value))) - digits + 1) if value else 0.0


def difference(before: Any, after: Any) -> tuple[float, bool]:
    """(how far two metric values are apart relative to the larger, whether they are at most
    one unit of the reports' last significant digit apart); (inf, False) when one is missing
    or either is no number and they are not equal."""
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (before, after)):
        return (0.0, True) if before == after else (math.inf, False)
    gap, scale = abs(after - before), max(abs(before), abs(after))
    if gap == 0:
        return 0.0, True
    return gap / scale, gap <= last_digit(scale) * (1 + 1e-9)


def metric_differences(committed: dict[str, Any], new: dict[str, Any]) -> dict[str, tuple[float, bool]]:
    """{"file: key": `difference`} of every metric in either."""
    out = {}
    for name in sorted(set(committed) | set(new)):
        before, after = flat(committed.get(name) or {}), flat(new.get(name) or {})
        for key in sorted(set(before) | set(after)):
            out[f"{name}: {key}"] = difference(before.get(key), after.get(key))
    return out


def verdict(
    committed: dict[str, Any],
    new: dict[str, Any],
    committed_metrics: dict[str, Any],
    new_metrics: dict[str, Any],
    others: list[str],
) -> tuple[int, str]:
    """(exit status, the one line saying why) for a committed lock against the one `dvc repro`
    wrote, the metric files' contents at each, and the changed files that are neither."""
    reasons = stale(committed, new)
    if reasons:
        more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
        return 1, (
            f"error: the committed {LOCK} is stale: {reasons[0]} differs{more}; "
            f"commit the {LOCK} and reports this `dvc repro` wrote"
        )
    if others:
        return 1, f"error: dvc repro changed files that are no stage's output: {', '.join(sorted(others))}"
    changed = changed_outputs(committed, new)
    if not changed:
        return 0, f"check-lock: {LOCK} and every output are the committed ones, byte for byte"
    differences = metric_differences(committed_metrics, new_metrics)
    apart = {k: rel for k, (rel, digit) in differences.items() if rel > RELATIVE and not digit}
    if apart:
        worst = max(apart, key=lambda k: apart[k])
        return 1, (
            f"error: outputs differ from the committed ones and so do the metrics, with the same code, "
            f"data and params: {worst} by {apart[worst]:.2g} relative (more than {RELATIVE:g})"
        )
    largest = max((rel for rel, _ in differences.values()), default=0.0)
    within = f"{RELATIVE:g} relative" + (
        f", or one unit of the last of the {METRIC_DIGITS} significant digits the reports keep"
        if largest > RELATIVE
        else ""
    )
    return 0, (
        f"check-lock: the committed {LOCK} is current (same code, data and params); outputs differ from "
        f"the committed ones ({', '.join(changed)}) but the metrics agree to {within} "
        f"(largest difference {largest:.2g}), as on another CPU"
    )


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout


def declared_metrics(root: Path) -> list[str]:
    """The metric files dvc.yaml declares, their `${key}` filled in from params.yaml."""
    spec = yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8"))
    params = flat(yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8")) or {})
    names = [
        next(iter(entry)) if isinstance(entry, dict) else entry
        for stage in spec.get("stages", {}).values()
        for entry in stage.get("metrics", [])
    ]
    return [re.sub(r"\$\{([\w.-]+)\}", lambda m: str(params[m[1]]), name) for name in names]


def committed_json(root: Path, name: str) -> Any:
    """HEAD's version of a JSON file; {} when HEAD has none."""
    shown = subprocess.run(["git", "show", f"HEAD:{name}"], cwd=root, capture_output=True, text=True)
    return json.loads(shown.stdout) if shown.returncode == 0 else {}


def current_json(path: Path) -> Any:
    """The working tree's version of a JSON file; {} when there is none."""
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def check(root: Path) -> tuple[int, str]:
    """Compare the working tree's `dvc.lock` and metric files (what `dvc repro` just wrote)
    with HEAD's; (exit status, one line)."""
    new = yaml.safe_load((root / LOCK).read_text(encoding="utf-8")) or {}
    committed = yaml.safe_load(git(root, "show", f"HEAD:{LOCK}")) or {}
    metrics = declared_metrics(root)
    before = {name: committed_json(root, name) for name in metrics}
    after = {name: current_json(root / name) for name in metrics}
    made = set(outputs(committed)) | set(outputs(new))
    changed = [line[3:] for line in git(root, "status", "--porcelain", "--untracked-files=all").splitlines()]
    others = [p for p in changed if p != LOCK and not any(p == o or p.startswith(f"{o}/") for o in made)]
    return verdict(committed, new, before, after, others)


def main() -> None:
    status, line = check(Path.cwd())
    print(line, file=sys.stderr if status else sys.stdout)
    raise SystemExit(status)


if __name__ == "__main__":
    main()
