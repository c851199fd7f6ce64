"""A server that stops answering mid-run (pipeline.tracking.spool): the run's remaining
writes are kept in `unsent.jsonl`, in order, and `python -m pipeline.upload` sends them
later so the run ends complete, once. Real MLflow clients on both sides: an HTTP client
pointed at a port nobody listens on, and this test's SQLite store as the server come back."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.entities import Dataset, DatasetInput, InputTag
from mlflow.exceptions import MlflowException
from reliability_helpers import ROOT, error_line, subprocess_env

from pipeline.core.config import TrackingConfig
from pipeline.core.files import SENT_FILE, UNSENT_FILE
from pipeline.tracking.recorder import RunRecorder
from pipeline.tracking.spool import Spool, read_spool, unanswered, without_credentials
from pipeline.tracking.upload import unsent_files, upload

TRACKING = TrackingConfig(experiment="unsent", run_name="run", http_retries=0, outage_grace_s=0)


@pytest.fixture
def gone(free_port, monkeypatch) -> mlflow.MlflowClient:
    """A client of a tracking server that is gone: nothing listens on its port."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    return mlflow.MlflowClient(f"http://127.0.0.1:{free_port()}")


def a_dataset(tmp_path: Path) -> DatasetInput:
    frame = pd.DataFrame({"x": [1.0, 2.0], "y": [0.5, 1.5]})
    with warnings.catch_warnings():  # a local path matches two equivalent source types
        warnings.simplefilter("ignore", UserWarning)
        source = str(tmp_path / "train.parquet")
        fields = mlflow.data.from_pandas(frame, source=source, name="toy", targets="y")
    return DatasetInput(Dataset(**fields.to_dict()), tags=[InputTag("mlflow.data.context", "training")])


def test_unanswered_is_a_request_without_reply_not_a_reply_saying_no(gone, isolated_tracking):
    with pytest.raises(MlflowException) as no_reply:
        gone.set_tag("0" * 32, "a", "b")
    assert unanswered(no_reply.value)
    with pytest.raises(MlflowException) as refused:
        mlflow.MlflowClient(isolated_tracking).get_run("0" * 32)  # the store answers: no such run
    assert not unanswered(refused.value)


def test_writes_to_a_server_gone_are_kept_and_an_upload_completes_the_run(gone, isolated_tracking, tmp_path):
    store = mlflow.MlflowClient(isolated_tracking)
    run = store.create_run(store.create_experiment("unsent"), run_name="job")
    run_id = run.info.run_id
    recorder = RunRecorder(store, isolated_tracking, run_id, run.info.experiment_id)
    spool_file = tmp_path / "job" / UNSENT_FILE
    recorder.spool = Spool(spool_file, isolated_tracking, run_id, grace_s=0)
    recorder.log_params({"optimizer": "adam", "lr": 0.01})  # before the outage: in the store
    recorder.log_metrics({"val_loss": 1.0}, step=1)
    recorder.flush()

    recorder.client = gone  # the server stops answering
    for epoch in (2, 3):
        recorder.log_metrics({"val_loss": 1.0 / epoch, "loss": 2.0 / epoch}, step=epoch)
    history = tmp_path / "outputs" / "history.csv"
    history.parent.mkdir()
    history.write_text("epoch,val_loss\n1,1.0\n2,0.5\n3,0.33\n")
    recorder.log_artifact(history, "reports")
    recorder.log_text("model: {}\n", "config.yaml")
    recorder.log_inputs([a_dataset(tmp_path)])
    recorder.set_tags({"run_status": "finished"})
    recorder.end("FINISHED")

    head, entries = read_spool(spool_file)
    assert head["run_id"] == run_id and head["uri"] == isolated_tracking
    # in the order they were written: epochs' metrics wait in the recorder's batch until its end
    assert [e["kind"] for e in entries] == ["artifact", "text", "inputs", "tags", "metrics", "end"]
    kept = store.get_run(run_id)
    assert kept.info.status == "RUNNING" and "run_status" not in kept.data.tags  # nothing sent

    assert upload(spool_file, TRACKING) == (isolated_tracking, run_id, 6, None)  # server, run, writes, parent
    done = store.get_run(run_id)
    assert done.info.status == "FINISHED" and done.data.tags["run_status"] == "finished"
    assert done.data.params == {"optimizer": "adam", "lr": "0.01"}
    steps = [(m.step, m.value) for m in store.get_metric_history(run_id, "val_loss")]
    assert sorted(steps) == [(1, 1.0), (2, 0.5), (3, 1.0 / 3)]  # every epoch, once
    assert len(store.get_metric_history(run_id, "loss")) == 2
    artifacts = {a.path for a in store.list_artifacts(run_id)} | {
        a.path for a in store.list_artifacts(run_id, "reports")
    }
    assert {"config.yaml", "reports/history.csv"} <= artifacts
    assert [d.dataset.name for d in done.inputs.dataset_inputs] == ["toy"]
    assert not spool_file.exists() and (spool_file.parent / SENT_FILE).is_file()
    assert unsent_files([tmp_path]) == []  # a second upload finds nothing to send twice


def test_a_record_cut_short_by_a_kill_keeps_every_whole_line(tmp_path):
    path = tmp_path / UNSENT_FILE
    whole = [{"kind": "run", "uri": "http://x", "run_id": "r"}, {"kind": "tags", "tags": {"a": "b"}}]
    path.write_text("".join(json.dumps(e) + "\n" for e in whole) + '{"kind": "metr')
    head, entries = read_spool(path)
    assert head["run_id"] == "r" and entries == [whole[1]]


def test_the_upload_of_a_folder_that_does_not_exist_is_one_line(tmp_path):
    missing = tmp_path / "multirun" / "nope"
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.upload", str(missing)],
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    line = error_line(done.stderr)
    assert str(missing) in line and UNSENT_FILE in line


def test_a_kept_record_holds_no_password_from_the_tracking_uri(tmp_path):
    uri = "http://alice:p@ss-secret@127.0.0.1:5000/mlflow"
    assert without_credentials(uri) == "http://127.0.0.1:5000/mlflow"
    assert without_credentials("sqlite:////tmp/a@b/mlflow.db") == "sqlite:////tmp/a@b/mlflow.db"
    spool = Spool(tmp_path / UNSENT_FILE, uri, "r", grace_s=1)
    spool.start(RuntimeError("no answer"))
    spool.add("tags", {"a": "b"})
    assert "secret" not in (tmp_path / UNSENT_FILE).read_text() and "secret" not in spool.message()
    assert read_spool(tmp_path / UNSENT_FILE)[0]["uri"] == "http://127.0.0.1:5000/mlflow"
