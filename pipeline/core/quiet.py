"""Other libraries' log lines kept off the terminal, so that stderr holds the project's own.

TensorFlow's C++ core logs at import (absl's "All log messages before
absl::InitializeLog() ..." line, `cpu_feature_guard`, oneDNN's notice) before Python can
set any level: `import_tensorflow_quietly` imports it with file descriptor 2 pointed at a
temporary file. The entry points call it before anything imports TensorFlow or Keras; the
numbers do not change (oneDNN stays as it is: only its notice is dropped).
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile

TF_LOG_LEVEL = "TF_CPP_MIN_LOG_LEVEL"
QUIET_TF_LOG_LEVEL = "2"  # TensorFlow's C++ INFO and WARNING lines off, its errors kept
# stdlib loggers whose INFO lines are no news to a user (a font cache built, a store migrated)
QUIET_LOGGERS = ("matplotlib", "mlflow", "alembic", "absl", "h5py", "numexpr")


def quiet_tensorflow_logs() -> None:
    """TensorFlow's C++ logging at errors only, unless the environment already says
    otherwise (TF_CPP_MIN_LOG_LEVEL): the processes this one starts inherit it."""
    os.environ.setdefault(TF_LOG_LEVEL, QUIET_TF_LOG_LEVEL)


def quiet_library_loggers() -> None:
    """The INFO lines of QUIET_LOGGERS' Python loggers dropped; their warnings kept."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow once (a no-op when it is imported already) with nothing it writes
    to stderr during the import reaching it. If the import fails, what it wrote is passed
    on to stderr before the error is raised. Also does `quiet_tensorflow_logs`, so that
    what TensorFlow would log later is at errors only."""
    quiet_tensorflow_logs()
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401 - imported for its side effect, quietly
        except BaseException:
            sys.stderr.flush()
            os.dup2(saved, 2)
            captured.seek(0)
            os.write(2, captured.read())
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
    quiet_library_loggers()  # absl's Python logger exists now


def quiet_optuna() -> None:
    """Optuna's INFO lines (a study created, each trial's result) dropped: Hydra's Optuna
    sweeper and the sweep's own lines say what ran. Imports Optuna: call it in a sweep that
    uses it."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
