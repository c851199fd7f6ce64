"""`python -m pipeline.run --help`: what each preset does, the groups, examples; no config dump."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def help_text() -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.run", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_help_gives_every_preset_a_line_and_lists_the_groups() -> None:
    text = help_text()
    presets = text.split("== Presets", 1)[1].split("==", 2)[1]
    described = dict(re.findall(r"^  (\w+)\s{2,}(\S.*)$", presets, flags=re.M))
    assert sorted(described) == sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml"))
    assert all(len(line) > 20 for line in described.values())
    for group in ("dataset", "optimizer", "init", "penalty", "stopping"):
        options = sorted(p.stem for p in (ROOT / "conf" / group).glob("*.yaml"))
        assert f"{group}: {', '.join(options)}" in text


def test_help_shows_examples_not_the_composed_config() -> None:
    text = help_text()
    examples = re.findall(r"^  (python -m pipeline\.run .*)$", text, flags=re.M)
    assert len(examples) == 4
    assert "raw_dir" not in text and "learning_rate:" not in text  # the old dump of the whole config
