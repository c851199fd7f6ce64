"""Recording one MLflow run without slowing the training that produces it.

MLflow's client is Python: a run's ~2,000 metric rows, its artifacts and its model cost
about 0.3 s of CPU. On a thread they compete with training and drawing for the GIL, and
the run got 30 % slower (docs/benchmarks.md). So every MLflow call of a run goes, in
order, to a helper process (`python -m pipeline.recorder`), one per training process,
started on first use and reused by every later run; it works on the other core while
training goes on. Messages are pickled over a pipe; nothing waits for them except
`drain()`, which returns once the helper has done everything sent so far for the run and
reports its first error.

A second helper of the same kind, the drawing lane, draws the run's pictures (matplotlib,
~0.5 s a run) and logs each to the run once drawn, so the training process never imports
matplotlib and goes on (evaluating, or in a sweep the next job) while they are drawn.

In a sequential sweep (`defer_run_ends`), a run's end does not wait either: the recording
helper sets the run's status once it has done the run's calls (FAILED, with the error, if
one failed), and the sweep waits for both helpers before it compares the runs.

`inline=True` runs each call at once in the caller instead (a sweep's parent run and other
short records, where starting a helper would cost more than it saves).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import importlib
import itertools
import math
import os
import pickle
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from pipeline.heap import for_good

PARAM_VALUE_LIMIT = 6000
BATCH_LIMIT = 1000  # MLflow's maximum metrics per log_batch
SEND_EVERY = BATCH_LIMIT  # full batches: a 200-metric batch costs the store ~2x as much per metric
FLUSH_EVERY_S = 10.0
RUN_STATUS_TAG = "run_status"  # finished | early_stopped | diverged | failed | killed
HELPER_EXIT_WAIT_S = 30.0  # at exit, how long the helper may take to finish what was sent
OUTBOX_MESSAGES = 64  # messages waiting for the helper before training waits for it
DATASET_ATTEMPTS = 4  # a dataset record that loses a race with another job's is sent again


class RecordingError(RuntimeError):
    """A call to the tracking store failed; the run is marked FAILED."""


def pip_requirements() -> list[str]:
    """What the logged model needs, pinned to what trained it (no slow inference)."""
    names = ("mlflow", "keras", "tensorflow-cpu", "pandas", "numpy")
    pins = []
    for name in names:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return pins


def absolute(path: str | Path) -> str:
    """Paths go to the helper absolute: it may have started in another working directory."""
    return str(Path(path).resolve())


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


# --------------------------------------------------------------------------- the calls


def _log_batch(
    client: Any, uri: str, run_id: str, metrics: list[Any], params: list[Any], tags: list[Any]
) -> None:
    client.log_batch(run_id, metrics=metrics, params=params, tags=tags)


def _log_text(client: Any, uri: str, run_id: str, text: str, artifact_file: str) -> None:
    client.log_text(run_id, text, artifact_file)


def _log_artifact(client: Any, uri: str, run_id: str, path: str, artifact_path: str | None) -> None:
    client.log_artifact(run_id, path, artifact_path)


_DATASETS: dict[tuple[Any, ...], list[Any]] = {}  # a helper's dataset records, by partition file


def _dataset_inputs(directory: str, part: str, name: str, target: str) -> list[Any]:
    """The run's training dataset input: built from the partition file once per helper and
    file version (a sweep's jobs share one; building it reads the file, ~0.03 s a job)."""
    source = Path(directory) / f"{part}.parquet"
    stat = source.stat()
    key = (str(source), stat.st_mtime_ns, stat.st_size, name, target)
    if key not in _DATASETS:
        import mlflow.data
        from mlflow.entities import DatasetInput, InputTag

        from pipeline.data import load_prepared

        frame = load_prepared(directory).parts[part]
        with warnings.catch_warnings():  # a local path matches two equivalent source types
            warnings.simplefilter("ignore", UserWarning)
            dataset = mlflow.data.from_pandas(frame, source=str(source), name=name, targets=target)
        tags = [InputTag("mlflow.data.context", "training")]
        _DATASETS.clear()  # one file at a time: a sweep over data sets does not pile them up
        _DATASETS[key] = [DatasetInput(dataset._to_mlflow_entity(), tags=tags)]
    return _DATASETS[key]


def _log_training_data(
    client: Any, uri: str, run_id: str, directory: str, part: str, name: str, target: str
) -> None:
    """A prepared partition as an MLflow dataset input (name, digest, source, schema)."""
    inputs = _dataset_inputs(directory, part, name, target)
    for attempt in range(DATASET_ATTEMPTS):
        try:
            client.log_inputs(run_id, datasets=inputs)
            return
        except Exception as err:
            # Jobs of a sweep record the same dataset at once: the store looks it up, finds
            # nothing, and all insert it; one wins and the others fail on its unique key
            # (seen on a Ray cluster). Again, the store finds the winner's row and links it.
            if "UNIQUE constraint" not in str(err) or attempt == DATASET_ATTEMPTS - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


def _col_type(dtype: str) -> str:
    if dtype.startswith(("int", "uint")):
        return "long"
    if dtype.startswith("float"):
        return "double"
    if dtype == "bool":
        return "boolean"
    return "string"


SERVING_MODULES = ("__init__.py", "features.py")  # the package's part serving_model.py imports


@functools.lru_cache(maxsize=1)
def serving_code() -> str:
    """The package as the logged model needs it, copied once per process into a temporary
    folder: only `SERVING_MODULES`, not the whole package (28 files copied into every model:
    logging one took 75 ms, now 60)."""
    import pipeline

    source = Path(pipeline.__file__).parent
    target = Path(tempfile.mkdtemp(prefix="serving-code-")) / "pipeline"
    target.mkdir()
    for name in SERVING_MODULES:
        shutil.copy2(source / name, target / name)
    atexit.register(shutil.rmtree, target.parent, True)
    return str(target)


def _log_model(
    client: Any, uri: str, run_id: str, keras_file: str, preprocessing_file: str, raw_dtypes: dict[str, str]
) -> None:
    """Log the raw-rows pyfunc model (the `.keras` network inside) and tag its model URI."""
    import mlflow
    import mlflow.pyfunc
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    import pipeline

    signature = ModelSignature(
        inputs=Schema([ColSpec(_col_type(t), name) for name, t in raw_dtypes.items()]),
        outputs=Schema([ColSpec("double")]),
    )
    package_dir = Path(pipeline.__file__).parent
    mlflow.set_tracking_uri(uri)
    # pyfunc.log_model logs into the active run (and creates the model in the run's
    # experiment, with its artifact location); leaving the `with` marks the run FINISHED,
    # and `end()` then sets the status that is true. (Model.log(run_id=...) without an
    # active run files the model under the Default experiment instead.)
    with mlflow.start_run(run_id=run_id), warnings.catch_warnings():
        # no input example on purpose: the signature is explicit (mlflow #16183)
        warnings.filterwarnings("ignore", message=".*input example.*")
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(package_dir / "serving_model.py"),
            artifacts={"keras_model": keras_file, "preprocessing": preprocessing_file},
            code_paths=[serving_code()],
            signature=signature,
            pip_requirements=pip_requirements(),
        )
    client.set_tag(run_id, "model_uri", str(info.model_uri))


def _draw(client: Any, uri: str | None, run_id: str, figure: str, args: tuple[Any, ...], folder: str) -> None:
    """Draw `pipeline.plots.<figure>(*args)`; log the picture into the run's `folder`, if any.
    A picture that cannot be drawn is a warning, never a failure of the run it illustrates."""
    from pipeline import plots

    failures: list[str] = []
    path = plots.safely(lambda: getattr(plots, figure)(*args), failures)
    for failure in failures:
        print(f"warning: picture {figure} could not be drawn: {failure}", file=sys.stderr, flush=True)
    if path is not None and client is not None:
        client.log_artifact(run_id, str(path), folder)


def mlflow_client(uri: str) -> Any:
    """MLflow's client for `uri`. The first one in a process imports MLflow and its store's
    modules: a heap kept for good (pipeline.heap). Once per process, not per store: a
    process that opens many stores (the tests) would otherwise freeze garbage each time."""
    with for_good("mlflow client"):
        from mlflow import MlflowClient

        return MlflowClient(uri)


CALLS: dict[str, Callable[..., None]] = {
    "log_batch": _log_batch,
    "log_text": _log_text,
    "log_artifact": _log_artifact,
    "log_training_data": _log_training_data,
    "log_model": _log_model,
    "draw": _draw,
}


class Executor:
    """Runs the calls of many runs, in the order sent; remembers each run's errors.
    After a run's first error its later calls are skipped (the run will be FAILED)."""

    def __init__(self) -> None:
        self.clients: dict[str, Any] = {}
        self.errors: dict[str, list[str]] = {}

    def client(self, uri: str) -> Any:
        if uri not in self.clients:
            self.clients[uri] = mlflow_client(uri)
        return self.clients[uri]

    def run(self, uri: str | None, run_id: str, call: str, args: tuple[Any, ...]) -> None:
        if self.errors.get(run_id):
            return
        try:
            CALLS[call](self.client(uri) if uri else None, uri, run_id, *args)
        except Exception as err:  # noqa: BLE001 (reported by drain)
            detail = "".join(traceback.format_exception(err))
            self.errors.setdefault(run_id, []).append(f"{call}: {type(err).__name__}: {err}\n{detail}")

    def take_errors(self, run_id: str) -> list[str]:
        return self.errors.pop(run_id, [])

    def finish(self, uri: str, run_id: str, status: str | None) -> None:
        """A run whose end did not wait (`defer_run_ends`): set `status` after its calls, or
        FAILED with the first error if one failed (`status` None: only the latter)."""
        errors = self.take_errors(run_id)
        try:
            client = self.client(uri)
            if errors:
                summary = errors[0].partition("\n")[0]
                print(f"error: recording run {run_id} failed: {summary}", file=sys.stderr, flush=True)
                client.set_tag(run_id, RUN_STATUS_TAG, "failed")
                client.set_tag(run_id, "error", f"RecordingError: {summary}"[:5000])
                client.set_terminated(run_id, "FAILED")
            elif status is not None:
                client.set_terminated(run_id, status)
        except Exception as err:  # noqa: BLE001 - the sweep finds the run still RUNNING and fails it
            print(
                f"error: could not end run {run_id}: {type(err).__name__}: {err}", file=sys.stderr, flush=True
            )


# --------------------------------------------------------------------------- the helper process


HELPER_NICE = 10  # below the training process: recording never delays a training step


def background_priority() -> None:
    """The helper is background work: a lower CPU priority, and one thread for pyarrow
    (reading the dataset record's partition), so it never takes both cores from training."""
    os.nice(HELPER_NICE)
    import pyarrow

    pyarrow.set_cpu_count(1)
    pyarrow.set_io_thread_count(1)


RECORD, DRAW = "record", "draw"  # the two lanes: MLflow calls, and pictures


def preload(lane: str) -> None:
    """Do, while the training process is still starting up, what the first run's calls would
    otherwise pay for: MLflow's client, its pandas dataset and pyfunc model code, and what
    logging a model first does (imports GitPython, maps the installed packages: ~0.9 s);
    matplotlib, and a first drawing (fonts and the renderer, ~0.15 s)."""
    from mlflow import MlflowClient  # noqa: F401

    if lane == DRAW:
        import io

        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(2, 2), dpi=50)
        ax.plot([1, 2], [1, 10], label="warm-up")
        ax.set_yscale("log")
        ax.set_title("warm-up")
        ax.legend()
        fig.savefig(io.BytesIO(), format="png")
        plt.close(fig)
    else:
        import mlflow.data.pandas_dataset  # noqa: F401
        import mlflow.pyfunc  # noqa: F401

        for name in ("git", "mlflow.models.display_utils", "mlflow.tracing.export"):
            with contextlib.suppress(ImportError):  # what log_model imports on first use
                importlib.import_module(name)
        with contextlib.suppress(Exception):  # log_model's map of installed packages (~0.6 s)
            from mlflow.utils.requirements_utils import warn_dependency_requirement_mismatches

            warn_dependency_requirement_mismatches(pip_requirements())


def serve(inbox: IO[bytes], outbox: IO[bytes], lane: str = RECORD) -> None:
    """The helper's loop: ("env", {...}), ("open", uri), ("call", uri, run_id, name, args),
    ("finish", uri, run_id, status) and ("sync", run_id, token) messages until the pipe
    closes. Ctrl-C and SIGTERM are left to the training process, which then ends its run
    through this helper (KILLED)."""
    from pipeline.tracking import quiet_environment, store_lock

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    quiet_environment()
    background_priority()
    with for_good("helper start-up"):
        preload(lane)
    executor = Executor()
    while True:
        try:
            message = pickle.load(inbox)
        except EOFError:
            return
        if message[0] == "env":
            os.environ.update(message[1])
        elif message[0] == "call":
            _, uri, run_id, call, args = message
            executor.run(uri, run_id, call, args)
        elif message[0] == "finish":
            executor.finish(*message[1:])
        elif message[0] == "open":  # open the store now, before a run needs it
            with contextlib.suppress(Exception), store_lock(message[1]):  # a failure shows later
                executor.client(message[1]).search_experiments(max_results=1)
        elif message[0] == "sync":
            _, run_id, token = message
            pickle.dump((token, executor.take_errors(run_id)), outbox)
            outbox.flush()


class Helper:
    """The training process's end of one helper process.

    Two threads of this process talk to the pipe, never the main thread: a signal handler
    (Ctrl-C, SIGTERM) raises in the main thread, and an exception in the middle of a write
    or a read would leave half a message in the pipe, which the other side then waits on
    for ever. The main thread only puts whole messages on a bounded queue (a helper that
    falls behind slows training down instead of filling memory) and takes whole replies.
    """

    def __init__(self, lane: str = RECORD) -> None:
        import pipeline

        self.owner, self.lane = os.getpid(), lane
        self.opened: set[str] = set()  # stores this helper was asked to open
        source_root = str(Path(pipeline.__file__).resolve().parents[1])  # the same code as ours
        env = dict(
            os.environ, PYTHONPATH=os.pathsep.join(filter(None, [source_root, os.environ.get("PYTHONPATH")]))
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pipeline.recorder", lane],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self._outbox: queue.Queue[bytes | None] = queue.Queue(maxsize=OUTBOX_MESSAGES)
        self._replies: queue.Queue[tuple[int, list[str]] | None] = queue.Queue()
        self._broken: OSError | None = None
        self._sync_lock = threading.Lock()
        self._tokens = itertools.count()
        self._writer = threading.Thread(target=self._write, name="recorder-writer", daemon=True)
        self._reader = threading.Thread(target=self._read, name="recorder-reader", daemon=True)
        self._writer.start()
        self._reader.start()
        atexit.register(self.close)

    def _write(self) -> None:
        assert self.process.stdin is not None
        try:
            while (data := self._outbox.get()) is not None:
                self.process.stdin.write(data)
                self.process.stdin.flush()
            self.process.stdin.close()
        except OSError as err:  # the helper is gone: reported to the next send and sync
            self._broken = err

    def _read(self) -> None:
        assert self.process.stdout is not None
        try:
            while True:
                self._replies.put(pickle.load(self.process.stdout))
        except (EOFError, OSError, pickle.UnpicklingError):
            self._replies.put(None)  # the helper is gone

    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, message: tuple[Any, ...]) -> None:
        if self._broken is not None:
            raise self._broken
        self._outbox.put(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    def sync(self, run_id: str) -> list[str]:
        """Wait until the helper has done everything sent for `run_id`; its errors."""
        with self._sync_lock:
            token = next(self._tokens)
            self.send(("sync", run_id, token))
            while True:  # an earlier sync interrupted by a signal may have left its reply
                reply = self._replies.get()
                if reply is None:
                    self._replies.put(None)  # every later sync learns it too
                    raise EOFError("the recording process exited")
                if reply[0] == token:
                    return list(reply[1])

    def close(self) -> None:
        """Let the helper finish what was sent, then exit."""
        if self.owner != os.getpid() or not self.alive():
            return
        try:
            self._outbox.put(None, timeout=HELPER_EXIT_WAIT_S)
            self.process.wait(timeout=HELPER_EXIT_WAIT_S)
        except (queue.Full, subprocess.TimeoutExpired):
            self.process.kill()


def mlflow_settings() -> dict[str, str]:
    """This process's MLflow settings (HTTP timeouts, telemetry), for the helper to apply."""
    return {k: v for k, v in os.environ.items() if k.startswith(("MLFLOW_", "DO_NOT_TRACK"))}


def start_helper(uri: str | None) -> None:
    """Start this process's helpers now, and have them open a local store, while the run
    begins (MLflow's and matplotlib's imports and the store's first open take ~1.5 s, off
    the run's path). `uri` None: only the drawing lane (a run that is not recorded)."""
    for lane in (RECORD, DRAW) if uri else (DRAW,):
        helper = shared_helper(lane)
        helper.send(("env", mlflow_settings()))
        if uri and uri.startswith("sqlite:") and uri not in helper.opened:
            helper.opened.add(uri)  # once per helper: later runs find the store open
            helper.send(("open", uri))


def warm_helpers(recording: bool) -> None:
    """Start this process's helpers before its first run (a sequential sweep, at its start):
    their imports (~2 CPU-s each) then overlap the sweep's own start-up on the idle core,
    instead of the first job's."""
    for lane in (RECORD, DRAW) if recording else (DRAW,):
        shared_helper(lane)


_helpers: dict[str, Helper] = {}
_helper_lock = threading.Lock()
_deferred = False


def shared_helper(lane: str = RECORD) -> Helper:
    """This process's helper for `lane`, started on first use (and again if it died or we forked)."""
    with _helper_lock:
        helper = _helpers.get(lane)
        if helper is None or helper.owner != os.getpid() or not helper.alive():
            helper = _helpers[lane] = Helper(lane)
        return helper


def defer_run_ends(deferred: bool) -> None:
    """In a sequential sweep: a run's end (and its pictures) no longer waits for the helpers,
    so the next job trains meanwhile; `wait_for_helpers` is then the sweep's to call."""
    global _deferred
    _deferred = deferred


def run_ends_deferred() -> bool:
    return _deferred


def wait_for_helpers(lanes: tuple[str, ...] = (RECORD, DRAW)) -> list[str]:
    """Wait until this process's helpers of `lanes` have done everything sent to them; what
    went wrong."""
    problems = []
    for lane, helper in list(_helpers.items()):
        if helper.owner != os.getpid() or lane not in lanes:
            continue
        try:
            helper.sync(f"wait-{lane}")
        except (OSError, EOFError, pickle.UnpicklingError) as err:
            problems.append(f"the {lane} helper process is gone ({type(err).__name__}: {err})")
    return problems


class Pictures:
    """A run's pictures, drawn by the drawing helper and logged to the run, if recorded.

    `wait()` returns once everything sent is drawn; at once when run ends are deferred (a
    recorded run's `end()` waits for its pictures itself)."""

    _keys = itertools.count()

    def __init__(self, recorder: RunRecorder | None) -> None:
        self.recorder = recorder
        self.key = f"pictures-{os.getpid()}-{next(self._keys)}"

    def draw(self, figure: str, *args: Any) -> None:
        """`pipeline.plots.<figure>(*args)`; its Path arguments are sent absolute."""
        args = tuple(a.resolve() if isinstance(a, Path) else a for a in args)
        if self.recorder is not None:
            self.recorder.draw(figure, *args)
        else:
            shared_helper(DRAW).send(("call", None, self.key, "draw", (figure, args, "figures")))

    def wait(self) -> None:
        if self.recorder is None and not _deferred:
            shared_helper(DRAW).sync(self.key)


# --------------------------------------------------------------------------- the recorder


class RunRecorder:
    """One MLflow run: params, batched metrics, tags, artifacts, the model.

    Every call is sent to the helper process (or, `inline`, made at once) in order. `end()`
    waits for everything sent, then sets the run's status; a recording error is raised
    there, after the run is marked FAILED.
    """

    def __init__(self, uri: str, run_id: str, experiment_id: str, inline: bool = False) -> None:
        self.uri, self.run_id, self.experiment_id = uri, run_id, experiment_id
        self.client = mlflow_client(uri)
        self.status = "FINISHED"
        self._pending: list[Any] = []
        self._last_flush = time.monotonic()
        self._errors: list[str] = []
        self._inline = Executor() if inline else None
        self._helper: Helper | None = None
        self._drawer: Helper | None = None  # the drawing lane, once the run draws
        if not inline:
            self._helper = shared_helper()
            self._send(("env", mlflow_settings()))

    def _send(self, message: tuple[Any, ...], helper: Helper | None = None) -> None:
        helper = helper or self._helper
        assert helper is not None
        try:
            helper.send(message)
        except (OSError, ValueError) as err:  # the helper died: reported by drain()
            self._errors.append(f"the recording process is gone ({type(err).__name__}: {err})")

    def _submit(self, call: str, *args: Any) -> None:
        if self._inline is not None:
            self._inline.run(self.uri, self.run_id, call, args)
        elif not self._errors:
            self._send(("call", self.uri, self.run_id, call, args))

    def drain(self) -> None:
        """Wait until every call sent has run; raise the first recording error."""
        if self._inline is not None:
            self._errors += self._inline.take_errors(self.run_id)
        elif self._helper is not None and not self._errors:
            try:
                for helper in filter(None, (self._drawer, self._helper)):
                    self._errors += helper.sync(self.run_id)
            except (OSError, EOFError, pickle.UnpicklingError) as err:
                self._errors.append(f"the recording process is gone ({type(err).__name__}: {err})")
        if self._errors:
            summary, _, detail = self._errors[0].partition("\n")
            error = RecordingError(summary)
            if detail:
                error.add_note(f"in the recording process:\n{detail}")
            raise error

    def log_params(self, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(k, str(v)[:PARAM_VALUE_LIMIT]) for k, v in params.items()]
        for start in range(0, len(items), 100):
            self._submit("log_batch", [], items[start : start + 100], [])

    def log_metrics(self, metrics: Mapping[str, Any], step: int = 0) -> None:
        """Queue finite metrics (NaN and infinity are never written), sent in batches."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self._pending.extend(Metric(k, float(v), now, step) for k, v in metrics.items() if _finite(v))
        if time.monotonic() - self._last_flush > FLUSH_EVERY_S or len(self._pending) >= SEND_EVERY:
            self.flush()

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        for start in range(0, len(pending), BATCH_LIMIT):
            self._submit("log_batch", pending[start : start + BATCH_LIMIT], [], [])
        self._last_flush = time.monotonic()

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        from mlflow.entities import RunTag

        items = [RunTag(k, str(v)) for k, v in tags.items() if v is not None]
        if items:
            self._submit("log_batch", [], [], items)

    def log_text(self, text: str, artifact_file: str) -> None:
        self._submit("log_text", text, artifact_file)

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        self._submit("log_artifact", absolute(path), artifact_path)

    def log_training_data(self, directory: str | Path, part: str, name: str, target: str) -> None:
        """The prepared partition `part` as the run's training dataset input (read by the
        helper from its file: the training process never holds it as a frame)."""
        self._submit("log_training_data", absolute(directory), part, name, target)

    def log_model(self, keras_file: Path, preprocessing_file: Path, raw_dtypes: Mapping[str, str]) -> None:
        """Log the raw-rows pyfunc model (the `.keras` network inside) and tag its `model_uri`."""
        self._submit("log_model", absolute(keras_file), absolute(preprocessing_file), dict(raw_dtypes))

    def draw(self, figure: str, *args: Any, folder: str = "figures") -> None:
        """Have the drawing helper draw `pipeline.plots.<figure>(*args)` and log it into `folder`."""
        if self._inline is not None:
            self._inline.run(self.uri, self.run_id, "draw", (figure, args, folder))
            return
        if self._drawer is None:
            self._drawer = shared_helper(DRAW)
        if not self._errors:
            self._send(("call", self.uri, self.run_id, "draw", (figure, args, folder)), self._drawer)

    def close(self) -> None:
        """Send what is queued and wait for it, leaving the run's status as it is."""
        self.flush()
        self.drain()

    def end(self, status: str) -> None:
        """Send what is queued, wait for it, then set `status` (FAILED if recording failed).
        With run ends deferred, the helpers do it once they get there (`Executor.finish`)."""
        self.flush()
        if _deferred and self._inline is None and not self._errors:
            self._send(("finish", self.uri, self.run_id, status))
            if self._drawer is not None:  # its own errors: it marks the run FAILED itself
                self._send(("finish", self.uri, self.run_id, None), self._drawer)
            if not self._errors:
                return
        try:
            self.drain()
        except BaseException as err:
            with contextlib.suppress(Exception):  # the status below matters more
                reason = f"{type(err).__name__}: {err}"[:5000]
                self.client.set_tag(self.run_id, RUN_STATUS_TAG, "failed")
                self.client.set_tag(self.run_id, "error", reason)
            self.client.set_terminated(self.run_id, "FAILED")
            raise
        self.client.set_terminated(self.run_id, status)


if __name__ == "__main__":
    from pipeline.errors import exit_now

    stdout = os.fdopen(os.dup(1), "wb")  # the replies; anything printed goes to stderr instead
    os.dup2(2, 1)
    serve(sys.stdin.buffer, stdout, sys.argv[1] if len(sys.argv) > 1 else RECORD)
    stdout.close()
    exit_now(0)  # everything sent is done; the interpreter's teardown would only add time
