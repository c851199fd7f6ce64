"""Other libraries' log lines stay off stderr: TensorFlow's import, quietly; Optuna's INFO lines."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

IMPORT_QUIETLY = textwrap.dedent(
    """
    import os, sys
    from pipeline.core.quiet import import_tensorflow_quietly
    import_tensorflow_quietly()
    print("ours", file=sys.stderr)
    print(os.environ["TF_CPP_MIN_LOG_LEVEL"], sys.modules["tensorflow"].IMPORTED)
    """
)


def fake_tensorflow(folder: Path, body: str) -> dict[str, str]:
    """A `tensorflow` package in `folder` whose import runs `body`; an environment that finds
    it first, with no TF_CPP_MIN_LOG_LEVEL."""
    package = folder / "tensorflow"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent(body), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return env | {"PYTHONPATH": str(folder)}


def test_what_tensorflows_import_writes_to_stderr_is_dropped(tmp_path: Path) -> None:
    """Written by C++ to file descriptor 2 (absl's line) or by Python to sys.stderr: gone;
    later lines reach stderr, and TensorFlow's later logging is set to errors only."""
    env = fake_tensorflow(
        tmp_path,
        """
        import os, sys
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called ...\\n")
        print("I0000 cpu_feature_guard.cc:227] This TensorFlow binary is optimized", file=sys.stderr)
        IMPORTED = "once"
        """,
    )
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_QUIETLY], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "ours\n"
    assert done.stdout == "2 once\n"


def test_a_tensorflow_that_fails_to_import_shows_what_it_wrote(tmp_path: Path) -> None:
    env = fake_tensorflow(
        tmp_path,
        """
        import os
        os.write(2, b"libtensorflow_framework.so.2: cannot open shared object file\\n")
        raise ImportError("broken install")
        """,
    )
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_QUIETLY], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert done.stderr.startswith("libtensorflow_framework.so.2: cannot open shared object file\n")
    assert "ImportError: broken install" in done.stderr and "ours" not in done.stderr


def test_optuna_says_nothing_of_a_study_it_creates(capfd: pytest.CaptureFixture[str]) -> None:
    import optuna

    from pipeline.core.quiet import quiet_optuna

    quiet_optuna()
    try:
        optuna.create_study(direction="minimize").optimize(lambda trial: trial.suggest_float("x", 0, 1), 1)
    finally:
        optuna.logging.set_verbosity(optuna.logging.INFO)
    assert capfd.readouterr().err == ""
