"""A run's record kept on disk while its tracking server is away, to be sent later.

When a request to the tracking server goes unanswered for the whole grace period
(`tracking.outage_grace_s`), the run's recorder stops sending: that write and every later
one are appended to the job's `unsent.jsonl`, one JSON object per line in call order, and
training goes on. The job then fails with the command that sends the record once the
server is back (`python -m pipeline.upload FOLDER`, pipeline.tracking.upload).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pipeline.core.errors import PipelineError

UPLOAD_COMMAND = "python -m pipeline.upload"


def without_credentials(uri: str) -> str:
    """`uri` without a `user:password@` part."""
    scheme, separator, rest = uri.partition("://")
    netloc, slash, path = rest.partition("/")
    if not separator or "@" not in netloc:
        return uri
    return f"{scheme}://{netloc.rsplit('@', 1)[1]}{slash}{path}"


def unanswered(err: BaseException) -> bool:
    """Whether `err` is a request that got no answer (refused, timed out, reset, or only
    5xx replies through every retry), not a reply saying no: MLflow wraps the `requests`
    error it gave up on, as cause or context."""
    import requests

    lost = (requests.exceptions.ConnectionError, requests.exceptions.Timeout, requests.exceptions.RetryError)
    seen: BaseException | None = err
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, lost):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class Spool:
    """The unsent part of one run's record: `unsent.jsonl`, started on the first write the
    server did not answer. Its first line names the server and the run."""

    def __init__(self, path: Path, uri: str, run_id: str, grace_s: float) -> None:
        # no password on disk: the upload takes credentials from the environment, as runs do
        self.path, self.uri, self.run_id, self.grace_s = path, without_credentials(uri), run_id, grace_s
        self.active = False

    def start(self, err: BaseException) -> None:
        """From now on, writes go to the file. Says so once on stderr."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        reason = str(err).splitlines()[0][:300]
        head = {"kind": "run", "uri": self.uri, "run_id": self.run_id, "error": reason}
        self.path.write_text(json.dumps(head) + "\n", encoding="utf-8")
        self.active = True
        print(
            f"warning: tracking server {self.uri} did not answer for {self.grace_s:g} s; "
            f"training goes on and the rest of run {self.run_id} is kept in {self.path}",
            file=sys.stderr,
            flush=True,
        )

    def add(self, kind: str, fields: dict[str, Any]) -> None:
        """Append one write, flushed to the file before this returns."""
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"kind": kind, **fields}) + "\n")

    def message(self) -> str:
        """The line a job ends with: what happened, where the record is, how to send it."""
        return (
            f"tracking server {self.uri} did not answer for {self.grace_s:g} s "
            "(tracking.outage_grace_s); the run trained to the end and its record is kept in "
            f"{self.path}; send it once the server is back: {UPLOAD_COMMAND} {self.path.parent}"
        )


def read_spool(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The head line and the writes of `path`. A last line cut short (the process was
    killed while writing it) is dropped: it was never sent either."""
    lines = path.read_text(encoding="utf-8").splitlines()
    entries = []
    for number, line in enumerate(lines):
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            if number != len(lines) - 1:
                raise
    if not entries or entries[0].get("kind") != "run":
        raise PipelineError(f"{path} is not a run record kept while a tracking server was away (no head)")
    return entries[0], entries[1:]
