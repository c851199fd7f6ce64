"""How long a run waits for a tracking server that went away, how it counts the retries, and
what it says when the server refuses its credentials."""

from __future__ import annotations

import logging
import os

import pytest

from pipeline.core.config import TrackingConfig
from pipeline.core.errors import PipelineError
from pipeline.tracking.store import RetryCount, backoff_retries, few_retries, http_settings, reach


@pytest.mark.parametrize(("grace", "retries"), [(0, 0), (1, 2), (2, 2), (6, 3), (30, 5), (60, 6), (62, 6)])
def test_the_retries_wait_out_the_grace_period_and_no_longer_than_needed(grace, retries):
    assert backoff_retries(grace) == retries
    waits = [0 if r == 1 else 2 ** (r - 1) for r in range(1, retries + 1)]  # urllib3's, factor 1
    assert sum(waits) >= grace and (retries == 0 or sum(waits[:-1]) < grace)


def test_a_run_fails_fast_before_its_first_record_and_rides_out_an_outage_after(monkeypatch):
    tracking = TrackingConfig(experiment="e", run_name="r", http_retries=2, outage_grace_s=60)
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    http_settings(tracking)
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "2"
    http_settings(tracking, recording=True)
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "6"
    with few_retries():
        assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "1"
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "6"


def test_retries_logged_by_urllib3_are_counted_only_while_installed():
    logger = logging.getLogger("urllib3.connectionpool")
    counter = RetryCount()
    with counter.installed():
        logger.warning("Retrying (%r) after connection broken by '%r': %s", "Retry(total=5)", "refused", "/x")
        logger.warning("Connection pool is full, discarding connection")
    logger.warning("Retrying (%r) after connection broken by '%r': %s", "Retry(total=4)", "refused", "/x")
    assert counter.retries == 1


class Refused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"API request failed with error code {status} != 200")
        self.status = status

    def get_http_status_code(self) -> int:
        return self.status


def refuse(status: int):
    def call() -> str:
        raise Refused(status)

    return call


def test_refused_credentials_name_the_server_the_status_and_the_user(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
    with pytest.raises(PipelineError) as failure:
        reach("http://tracking:5000", refuse(401))
    message = str(failure.value)
    assert message.startswith("tracking server http://tracking:5000 refused the credentials of user 'alice'")
    assert "HTTP 401 Unauthorized" in message and "unreachable" not in message
    with pytest.raises(PipelineError) as failure:
        reach("http://tracking:5000", refuse(403))
    assert "HTTP 403 Forbidden" in str(failure.value) and "tracking.experiment=NAME" in str(failure.value)


def test_a_server_error_that_is_not_about_credentials_is_still_unreachable():
    with pytest.raises(PipelineError, match="is unreachable"):
        reach("http://tracking:5000", refuse(503))
