"""The recording executor: calls run in order, a failing call fails its run only."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline import recorder
from pipeline.recorder import Executor, RecordingError, RunRecorder


class FakeClient:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        if text == "boom":
            raise OSError("disk full")
        self.calls.append((run_id, artifact_file))


def executor_with(client: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Executor, Any]:
    """An executor whose every call goes to `client` instead of a store."""
    executor = Executor()
    monkeypatch.setattr(executor, "client", lambda uri: client)
    return executor, client


@pytest.fixture
def executor(monkeypatch: pytest.MonkeyPatch) -> tuple[Executor, FakeClient]:
    return executor_with(FakeClient(), monkeypatch)


def test_a_failing_call_skips_the_rest_of_its_run_and_is_reported_once(executor) -> None:
    run, client = executor
    run.run("uri", "a", "log_text", ("one", "1.txt"))
    run.run("uri", "a", "log_text", ("boom", "2.txt"))
    run.run("uri", "a", "log_text", ("three", "3.txt"))  # skipped: the run will be FAILED anyway
    run.run("uri", "b", "log_text", ("other run", "b.txt"))  # another run is not affected
    assert client.calls == [("a", "1.txt"), ("b", "b.txt")]
    errors = run.take_errors("a")
    assert len(errors) == 1 and errors[0].startswith("log_text: OSError: disk full")
    assert run.take_errors("a") == [] and run.take_errors("b") == []


def test_drain_raises_one_line_with_the_helper_traceback_as_a_note(monkeypatch) -> None:
    monkeypatch.setattr(recorder, "shared_helper", lambda: None)
    rec = RunRecorder.__new__(RunRecorder)
    rec._inline, rec._helper = None, None
    rec._errors = ["log_model: OSError: disk full\nTraceback (most recent call last):\n  ..."]
    with pytest.raises(RecordingError) as failure:
        rec.drain()
    assert str(failure.value) == "log_model: OSError: disk full"
    assert "Traceback" in failure.value.__notes__[0]


def test_paths_are_sent_absolute(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert recorder.absolute("models/model.keras") == str(tmp_path / "models" / "model.keras")


class RacingClient:
    """A store where another job inserted the same dataset first `losses` times."""

    def __init__(self, losses: int, message: str = "UNIQUE constraint failed: datasets.digest") -> None:
        self.losses, self.message, self.calls = losses, message, 0

    def log_inputs(self, run_id: str, datasets: list[Any]) -> None:
        self.calls += 1
        if self.calls <= self.losses:
            raise RuntimeError(f"(sqlite3.IntegrityError) {self.message}")


@pytest.fixture
def one_partition(monkeypatch: pytest.MonkeyPatch, tmp_path) -> list[str]:
    """A prepared folder whose train partition is a small frame; the folders read, in order."""
    import types

    import pandas as pd

    import pipeline.data

    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [3.0, 4.0, 5.0]})
    (tmp_path / "train.parquet").write_bytes(b"version 1")  # only its size and time are looked at
    reads: list[str] = []

    def load_prepared(folder):
        reads.append(folder)
        return types.SimpleNamespace(parts={"train": frame})

    monkeypatch.setattr(pipeline.data, "load_prepared", load_prepared)
    monkeypatch.setattr(recorder, "_DATASETS", {})
    monkeypatch.setattr(recorder.time, "sleep", lambda seconds: None)
    return reads


def test_a_dataset_record_is_built_once_per_partition_file(one_partition, tmp_path) -> None:
    client = RacingClient(losses=0)
    for run in ("a", "b"):  # two jobs of a sweep, one helper
        recorder._log_training_data(client, "uri", run, str(tmp_path), "train", "data", "y")
    assert client.calls == 2 and one_partition == [str(tmp_path)]
    (tmp_path / "train.parquet").write_bytes(b"version 2, prepared again")
    recorder._log_training_data(client, "uri", "c", str(tmp_path), "train", "data", "y")
    assert one_partition == [str(tmp_path)] * 2  # a new file version: read again


def test_a_dataset_record_that_loses_a_race_with_another_job_is_sent_again(one_partition, tmp_path) -> None:
    client = RacingClient(losses=2)
    recorder._log_training_data(client, "uri", "run", str(tmp_path), "train", "data", "y")
    assert client.calls == 3


def test_other_dataset_errors_are_not_retried(one_partition, tmp_path) -> None:
    client = RacingClient(losses=1, message="disk I/O error")
    with pytest.raises(RuntimeError, match="disk I/O error"):
        recorder._log_training_data(client, "uri", "run", str(tmp_path), "train", "data", "y")
    assert client.calls == 1


class EndingClient:
    """What a run's deferred end asks of the store."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def set_tag(self, run_id: str, key: str, value: str) -> None:
        self.calls.append(("tag", run_id, key, value))

    def set_terminated(self, run_id: str, status: str) -> None:
        self.calls.append(("status", run_id, status))

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        raise OSError("disk full")

    def log_artifact(self, run_id: str, path: str, folder: str) -> None:
        self.calls.append(("artifact", run_id, path, folder))


@pytest.fixture
def ending(monkeypatch: pytest.MonkeyPatch) -> tuple[Executor, EndingClient]:
    return executor_with(EndingClient(), monkeypatch)


def test_a_deferred_end_sets_the_status_after_the_calls(ending) -> None:
    executor, client = ending
    executor.finish("uri", "a", "FINISHED")
    executor.finish("uri", "b", None)  # the drawing lane's end: nothing failed, nothing to set
    assert client.calls == [("status", "a", "FINISHED")]


def test_a_deferred_end_after_a_failed_call_fails_the_run_with_the_error(ending, capsys) -> None:
    executor, client = ending
    executor.run("uri", "a", "log_text", ("text", "notes.txt"))
    executor.finish("uri", "a", "FINISHED")
    assert client.calls == [
        ("tag", "a", "run_status", "failed"),
        ("tag", "a", "error", "RecordingError: log_text: OSError: disk full"),
        ("status", "a", "FAILED"),
    ]
    assert "error: recording run a failed: log_text: OSError: disk full" in capsys.readouterr().err


def test_a_picture_is_drawn_then_logged_and_a_failed_one_is_a_warning(ending, tmp_path, capsys) -> None:
    import pandas as pd

    executor, client = ending
    history = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [3.0, 2.0, 1.0], "val_loss": [3.5, 2.5, 2.0]})
    path = tmp_path / "figures" / "learning_curves.png"
    executor.run("uri", "a", "draw", ("learning_curves", (history, path), "figures"))
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert client.calls == [("artifact", "a", str(path), "figures")]
    executor.run("uri", "a", "draw", ("learning_curves", (None, tmp_path / "x.png"), "figures"))
    executor.run(None, "untracked", "draw", ("learning_curves", (history, tmp_path / "y.png"), "figures"))
    assert (tmp_path / "y.png").is_file() and not (tmp_path / "x.png").exists()
    assert len(client.calls) == 1  # neither the failed picture nor an untracked one is logged
    assert "warning: picture learning_curves could not be drawn: TypeError" in capsys.readouterr().err
    assert executor.take_errors("a") == []  # a picture is never the run's failure


def test_pictures_of_an_untracked_run_are_drawn_by_the_helper(tmp_path) -> None:
    import pandas as pd

    history = pd.DataFrame({"epoch": [1, 2], "train_loss": [2.0, 1.0], "val_loss": [2.5, 1.5]})
    pictures = recorder.Pictures(None)
    pictures.draw("learning_curves", history, tmp_path / "learning_curves.png")
    pictures.wait()
    assert (tmp_path / "learning_curves.png").read_bytes()[:4] == b"\x89PNG"
