"""Overrides as a person types them into bash: hints that paste, and grammar errors in one line."""

from __future__ import annotations

import re
import shlex

# characters that mean the same to bash and to Hydra's override grammar when left unquoted
_PLAIN = re.compile(r"[A-Za-z0-9_.:/@%+-]*")


def hydra_quoted(value: str) -> str:
    """`value` as a quoted string of Hydra's override grammar."""
    if '"' not in value:
        return f'"{value}"'
    if "'" not in value:
        return f"'{value}'"
    return '"' + value.replace('"', '\\"') + '"'


def shell_word(text: str) -> str:
    """`text` as one bash word: single-quoted, or ANSI-C quoted (`$'...'`) when it holds a
    tab, newline or other control character that a pasted line could not carry."""
    if all(c.isprintable() for c in text):
        return shlex.quote(text)
    escaped = "".join(
        {"\\": "\\\\", "'": "\\'", "\t": "\\t", "\n": "\\n", "\r": "\\r"}.get(c)
        or (c if c.isprintable() else f"\\x{ord(c):02x}")
        for c in text
    )
    return f"$'{escaped}'"


def shell_override(key: str, value: str) -> str:
    """`key=value` written so that bash passes it to Hydra (or `dvc exp run -S`) intact and
    Hydra reads `value` back exactly: `dataset.separator=';'` becomes `'dataset.separator=";"'`."""
    if _PLAIN.fullmatch(value) and value:
        return f"{key}={value}"
    return shell_word(f"{key}={hydra_quoted(value)}")


def override_syntax_error(arguments: list[str]) -> str | None:
    """The first `key=value` argument that Hydra's override grammar rejects, as one line
    naming it and showing how to write it; None when every one parses."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parser = OverridesParser.create()
    for argument in arguments:
        if argument.startswith("-") or "=" not in argument:
            continue
        try:
            parser.parse_override(argument)
        except HydraException:
            key, value = argument.split("=", 1)
            return (
                f"override {argument!r} is not valid Hydra override syntax "
                "(characters such as ; , [ ] ' \" and spaces must be quoted); "
                f"write it as {shell_override(key, value)}"
            )
    return None
