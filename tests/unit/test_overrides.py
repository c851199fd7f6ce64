"""Overrides the project prints must work pasted into bash as printed."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.core.overrides import override_syntax_error, shell_override

ROOT = Path(__file__).resolve().parents[2]
Pasted = Callable[[str], tuple[str, object]]


@pytest.mark.parametrize(
    "value", [";", ",", "\t", "|", " ", "a b", "[x", "it's", 'say "hi"', "x=y", "$HOME", "plain"]
)
def test_a_printed_override_reaches_hydra_unchanged(value: str, pasted_override: Pasted) -> None:
    assert pasted_override(shell_override("dataset.separator", value)) == ("dataset.separator", value)


def test_plain_values_stay_unquoted() -> None:
    assert shell_override("optimizer", "adam") == "optimizer=adam"
    assert shell_override("tracking.uri", "http://127.0.0.1:5000") == "tracking.uri=http://127.0.0.1:5000"
    assert shell_override("dataset.separator", ";") == "'dataset.separator=\";\"'"


def test_a_grammar_error_names_the_override_and_a_form_that_works(pasted_override: Pasted) -> None:
    message = override_syntax_error(["-m", "optimizer=adam", "dataset.separator=;"])
    assert message is not None and "\n" not in message
    assert "'dataset.separator=;'" in message
    fix = message.rsplit("write it as ", 1)[1]
    assert pasted_override(fix) == ("dataset.separator", ";")
    assert override_syntax_error(["optimizer=sgd,adam", "dataset.categorical=[a,b]", "--help"]) is None


def test_the_entry_point_answers_a_grammar_error_in_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.run", "dataset.separator=;"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: override 'dataset.separator=;'"), done.stderr
    assert "LexerNoViableAltException" not in done.stderr


def documented_commands() -> list[str]:
    """The `python -m pipeline.run` and `dvc exp run` commands in the README's and docs/'
    code blocks, continuation lines joined, comments dropped."""
    commands = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        fenced = re.findall(r"```(\w*)\n(.*?)```", doc.read_text(encoding="utf-8"), flags=re.S)
        blocks = [text for language, text in fenced if language in ("", "bash", "sh", "console")]
        for line in "\n".join(blocks).replace("\\\n", " ").splitlines():
            found = re.search(r"(python -m pipeline\.run|dvc exp run)\s(.*)", line.split(" #")[0])
            if found:
                commands.append(found.group(0))
    return commands


def test_every_documented_override_parses_as_pasted(bash_words: Callable[[str], list[str]]) -> None:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    commands = documented_commands()
    assert len(commands) >= 5
    for command in commands:
        words = bash_words(command.split(" ", 3)[3])
        if command.startswith("dvc"):
            overrides = [w for i, w in enumerate(words) if i > 0 and words[i - 1] == "-S"]
        else:
            overrides = [w for w in words if not w.startswith("-")]
        for override in overrides:
            try:
                parser.parse_override(override)
            except Exception as err:  # noqa: BLE001 - the assertion names the command
                pytest.fail(f"{command!r}: bash passes {override!r}, which Hydra rejects: {err}")


def test_every_fixed_override_hint_in_the_package_parses_as_pasted(pasted_override: Pasted) -> None:
    """Hints written out in the source (`set dataset.drop_blank_rows=true`, ...); computed
    ones go through shell_override, tested above and where they are raised."""
    hints = []
    for module in sorted((ROOT / "pipeline").rglob("*.py")):
        hints += re.findall(r"\bset ([\w+~]+\.[\w.]+=[^\s\"`)]+)", module.read_text(encoding="utf-8"))
    assert len(hints) >= 5, hints
    for hint in hints:
        key, value = hint.split("=", 1)
        assert pasted_override(hint) == (key, value) or value.lower() in ("true", "false"), hint
