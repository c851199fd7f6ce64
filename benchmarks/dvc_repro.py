"""How long does `dvc repro` take: every stage forced, and with nothing changed?

    python benchmarks/dvc_repro.py [--repeats 3] [--json dvc_repro.json]

In a temporary copy of the project (a `git clone` of HEAD, then the working tree's
uncommitted and untracked, not ignored, files copied over it; removed files removed):
`dvc repro -f` once (wall, and each stage's share from the time its "Running stage" line
appeared to the next one's), then `dvc repro` with nothing changed, --repeats times (median).
The stages' MLflow run goes to a store in the temporary folder. Targets: `dvc repro -f`
<= 20 s, no-op `dvc repro` < 5 s.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import ROOT, environment, fmt, median, parser, report, workspace

STAGE_LINE = re.compile(r"Running stage '([^']+)'")


def project_copy(target: Path) -> int:
    """Clone HEAD into `target` and lay the working tree's changes over it; files changed."""
    subprocess.run(["git", "clone", "--quiet", "--local", str(ROOT), str(target)], check=True)

    def listed(*flags: str) -> list[str]:
        done = subprocess.run(
            ["git", "ls-files", "-z", *flags], cwd=ROOT, capture_output=True, text=True, check=True
        )
        return [name for name in done.stdout.split("\0") if name]

    deleted = set(listed("--deleted"))
    for name in deleted:
        (target / name).unlink(missing_ok=True)
    changed = [n for n in listed("--modified", "--others", "--exclude-standard") if n not in deleted]
    for name in changed:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target / name, follow_symlinks=False)
    return len(changed) + len(deleted)


def dvc(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, list[tuple[float, str]], int]:
    """Run `dvc ARGS`; wall seconds, each output line with the second it appeared, exit status."""
    command = [str(Path(sys.executable).with_name("dvc")), *args]
    started = time.perf_counter()
    lines: list[tuple[float, str]] = []
    with subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append((time.perf_counter() - started, line.rstrip()))
    return time.perf_counter() - started, lines, proc.returncode


def stage_times(lines: list[tuple[float, str]], wall: float) -> dict[str, float]:
    starts = [(t, m.group(1)) for t, text in lines if (m := STAGE_LINE.search(text))]
    ends = [t for t, _ in starts[1:]] + [wall]
    return {name: end - start for (start, name), end in zip(starts, ends, strict=True)}


def main() -> None:
    args = parser(__doc__).parse_args()
    results: dict[str, Any] = {"environment": environment(), "repeats": args.repeats}
    with workspace(args) as ws:
        copy = ws.tmp / "project"
        started = time.perf_counter()
        results["files_over_head"] = project_copy(copy)
        results["copy_s"] = time.perf_counter() - started
        env = ws.env() | {"PYTHONUNBUFFERED": "1", "MLFLOW_TRACKING_URI": ws.uri}
        env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"  # the stages' `python`
        wall, lines, rc = dvc(["repro", "-f"], copy, env)
        if rc != 0:
            raise SystemExit(f"dvc repro -f failed (exit {rc}):\n" + "\n".join(t for _, t in lines[-40:]))
        results["forced_s"] = wall
        results["stages_s"] = stage_times(lines, wall)
        results["before_first_stage_s"] = next((t for t, text in lines if STAGE_LINE.search(text)), None)
        noop = []
        for _ in range(args.repeats):
            wall, lines, rc = dvc(["repro"], copy, env)
            text = "\n".join(t for _, t in lines)
            if rc != 0 or "Running stage" in text:
                raise SystemExit(f"no-op dvc repro ran something or failed (exit {rc}):\n{text[-3000:]}")
            noop.append(wall)
            print(f"  no-op dvc repro: {wall:.2f}s", flush=True)
        results["noop_s"] = noop
        results["noop_median_s"] = median(noop)
        results["noop_output"] = text[-500:]
        results["mlflow_runs_finished"] = sum(r.info.status == "FINISHED" for r in ws.runs())
    stages = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in results["stages_s"].items())
    lines_out = [
        f"dvc (temporary copy of the project: git clone of HEAD + "
        f"{results['files_over_head']} changed files, {results['copy_s']:.1f}s)",
        f"  dvc repro -f:               {fmt(results['forced_s']):>6}s (target <= 20 s)",
        f"    per stage: {stages} (dvc's start before the first: {fmt(results['before_first_stage_s'])}s)",
        f"  dvc repro, nothing changed: {fmt(results['noop_median_s']):>6}s median of {args.repeats} "
        f"({', '.join(f'{s:.2f}' for s in noop)}; target < 5 s)",
        f"  the train stage's MLflow run: {results['mlflow_runs_finished']} FINISHED in the temporary store",
    ]
    report(results, lines_out, args.json)


if __name__ == "__main__":
    main()
