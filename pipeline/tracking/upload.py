"""Send the run records kept while a tracking server was away (pipeline.tracking.spool).

    python -m pipeline.upload multirun/2026-12-02/10-00-00   # every job of a sweep
    python -m pipeline.upload outputs/2026-12-02/10-00-00    # one job
    python -m pipeline.upload path/to/unsent.jsonl

Each record goes to the server and the run it was kept for, in the order it was made;
credentials come from MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD as for any
run. A record sent in full is renamed `sent.jsonl`, so a second upload sends nothing twice.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pipeline.core.config import TrackingConfig, load_config
from pipeline.core.errors import PipelineError
from pipeline.core.files import SENT_FILE, UNSENT_FILE
from pipeline.tracking.queries import end_dead_runs, run_summary
from pipeline.tracking.recorder import PARENT_TAG, RunRecorder
from pipeline.tracking.records import log_model
from pipeline.tracking.spool import read_spool
from pipeline.tracking.store import http_settings, mlflow_client, quiet_environment, reach

DIED_NOTE = "ended without ending the run"  # the note of a run ended FAILED while its record waited


def unsent_files(paths: Iterable[Path]) -> list[Path]:
    """The unsent records named by `paths`: files as they are, folders searched through."""
    found: list[Path] = []
    for path in paths:
        if path.is_file():
            found.append(path)
            continue
        if not path.is_dir():
            raise PipelineError(f"{path} does not exist; name a sweep or job folder, or its {UNSENT_FILE}")
        found.extend(sorted(path.rglob(UNSENT_FILE)))
    return found


def send_entry(recorder: RunRecorder, entry: dict[str, Any]) -> None:
    """Make the store write that `entry` (a line of an unsent record) stands for."""
    from mlflow.entities import Dataset, DatasetInput, InputTag, Metric

    kind = entry["kind"]
    if kind == "params":
        recorder.log_params(entry["params"])
    elif kind == "metrics":
        recorder.send_metrics([Metric(*m) for m in entry["metrics"]])
    elif kind == "tags":
        recorder.set_tags(entry["tags"])
    elif kind == "text":
        recorder.log_text(entry["text"], entry["artifact_file"])
    elif kind == "artifact":
        recorder.log_artifact(entry["path"], entry["artifact_path"])
    elif kind == "artifacts":
        recorder.log_artifacts(entry["folder"], entry["artifact_path"])
    elif kind == "inputs":
        recorder.log_inputs(
            [
                DatasetInput(
                    Dataset.from_dictionary(d["dataset"]), [InputTag(k, v) for k, v in d["tags"].items()]
                )
                for d in entry["datasets"]
            ]
        )
    elif kind == "model":
        fields = entry["raw_dtypes"], entry["classes"]
        log_model(recorder, Path(entry["keras_file"]), Path(entry["preprocessing_file"]), *fields)
    elif kind == "end":
        recorder.end(entry["status"])
    else:
        raise PipelineError(f"unknown kind {kind!r} in an unsent record; was it written by a newer pipeline?")


def upload(path: Path, tracking: TrackingConfig) -> tuple[str, str, int, str | None]:
    """Send the record in `path` to its run, then rename it SENT_FILE. Returns the server,
    the run's id, how many writes were sent and the run's parent (a sweep's), if any."""
    head, entries = read_spool(path)
    quiet_environment()
    http_settings(tracking, recording=False)  # a server still away: say so at once
    uri, run_id = head["uri"], head["run_id"]
    client = mlflow_client(uri)
    run = reach(uri, lambda: client.get_run(run_id))
    http_settings(tracking, recording=True)
    if DIED_NOTE in run.data.tags.get("error", ""):  # a reader gave up on it; its record says how it ended
        client.delete_tag(run_id, "error")
    recorder = RunRecorder(client, uri, run_id, run.info.experiment_id)
    for entry in entries:
        send_entry(recorder, entry)
    recorder.wait()
    path.rename(path.with_name(SENT_FILE))
    return uri, run_id, len(entries), run.data.tags.get(PARENT_TAG)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="sweep or job folders, or unsent.jsonl files")
    parser.add_argument("--params", default="params.yaml", help="config giving the tracking timeouts")
    args = parser.parse_args()
    files = unsent_files(args.paths)
    if not files:
        names = " ".join(str(p) for p in args.paths)
        print(f"upload: no {UNSENT_FILE} under {names}: nothing to send")
        return
    cfg = load_config(args.params)
    sweeps: dict[str, str] = {}
    for number, path in enumerate(files, 1):
        uri, run_id, count, parent_id = upload(path, cfg.tracking)
        print(f"upload {number}/{len(files)}: sent {count} writes of run {run_id} to {uri} ({path.parent})")
        if parent_id:
            sweeps[parent_id] = uri
    for parent_id, uri in sweeps.items():  # a sweep whose end never reached the server
        tracking = cfg.tracking.model_copy(update={"uri": uri})
        parent = run_summary(tracking, cfg.paths, parent_id)
        (ended,) = end_dead_runs(tracking, cfg.paths, [parent])
        if ended.status != parent.status:
            print(f"upload: the sweep's parent run {parent_id} marked FAILED: {ended.tags['error']}")
