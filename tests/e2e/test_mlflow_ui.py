"""The MLflow UI on a store that a real sweep filled, seen through headless Chromium.

A two-job sweep (`python -m pipeline.run -m optimizer=sgd,adam`, 2 epochs) writes into a
private SQLite store; `mlflow ui` serves it on 127.0.0.1; Debian's Chromium, driven by
Playwright with the system browser (never a downloaded one), checks that the runs page lists
the sweep's parent and child runs with their varying parameter and a metric, and that the
compare view opens for the two child runs. Screenshots go to tmp_path and, when
$UI_SCREENSHOT_DIR is set, are copied there for a person to look at.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",  # 127.0.0.1 only; never a proxy from the environment
]
EXPERIMENT = "keras-regression"
PARAM = "optimizer.name"
OPTIMIZERS = ("sgd", "adam")
METRIC = "validation_mse_scaled"  # the sweep's own objective (pipeline.experiments.sweep, without CV)
UI_TIMEOUT_MS = 60_000
SERVER_START_S = 60.0
SWEEP_TIMEOUT_S = 300.0
MIN_PNG_BYTES = 10_000


def _require_browser() -> None:
    """Skip without Chromium or Playwright on a developer machine; fail in CI."""
    problem = None
    if not CHROMIUM.is_file():
        problem = f"{CHROMIUM} not found (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is not installed (pip install -e '.[dev]')"
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI needs the UI test's browser: {problem}")
    pytest.skip(problem)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="1", TF_CPP_MIN_LOG_LEVEL="2", **extra)
    return env


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


@dataclass(frozen=True)
class SweepStore:
    uri: str
    db: Path
    artifacts: Path
    experiment_id: str
    parent: Any  # mlflow.entities.Run
    children: dict[str, Any]  # optimizer name -> Run


def _sweep_command(tmp: Path, uri: str, db: Path, artifacts: Path) -> list[str]:
    """A two-job sweep into tmp: the store, and every configured path, point into tmp."""
    configured = yaml.safe_load((ROOT / "conf" / "paths" / "default.yaml").read_text(encoding="utf-8"))
    paths = {key: tmp / "project" / str(value).lstrip("/") for key, value in configured.items()}
    paths.update(mlflow_artifacts=artifacts, prepared_cache=tmp / "prepared", mlflow_db=db)
    return [
        sys.executable,
        "-m",
        "pipeline.run",
        "-m",
        f"optimizer={','.join(OPTIMIZERS)}",
        "training.epochs=2",
        f"tracking.uri={uri}",
        *(f"paths.{key}={value}" for key, value in paths.items()),
        f"hydra.sweep.dir={tmp / 'sweep'}",
    ]


def _store_has_a_run(db: Path) -> bool:
    """Whether the sweep's store exists with its schema and a run (read-only, never migrates)."""
    if not db.is_file():
        return False
    try:
        with closing(sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=1)) as conn:
            return bool(conn.execute("SELECT count(*) FROM runs").fetchone()[0])
    except sqlite3.Error:
        return False


def _read_store(uri: str, db: Path, artifacts: Path) -> SweepStore:
    """The sweep's experiment, its parent run and one child run per optimizer."""
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment is not None, f"the sweep made no experiment {EXPERIMENT!r}"
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1, f"expected one sweep parent run, got {[r.info.run_name for r in parents]}"
    parent = parents[0]
    kids = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    children = {r.data.params.get(PARAM): r for r in kids}
    assert sorted(children) == sorted(OPTIMIZERS), f"child runs by {PARAM}: {sorted(children, key=str)}"
    for optimizer, run in children.items():
        assert run.info.status == "FINISHED", f"{optimizer} run is {run.info.status}"
        assert METRIC in run.data.metrics, f"{optimizer} run lacks {METRIC}: {sorted(run.data.metrics)}"
        assert optimizer in (run.info.run_name or ""), f"{optimizer} run is named {run.info.run_name!r}"
    return SweepStore(uri, db, artifacts, str(experiment.experiment_id), parent, children)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(command: list[str], cwd: Path, log_path: Path) -> subprocess.Popen[bytes]:
    """A child process in a session of its own (so that it can be stopped with its children)."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            command, cwd=cwd, env=_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM the process group of a child started by `_start`, then SIGKILL."""
    if proc is None or proc.poll() is not None:
        return
    for sig, wait_s in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def _wait_healthy(proc: subprocess.Popen[bytes], base: str, log_path: Path) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1, no proxy
    deadline = time.monotonic() + SERVER_START_S
    while True:
        if proc.poll() is not None:
            pytest.fail(
                f"mlflow ui exited with {proc.returncode}:\n{_tail(log_path.read_text(errors='replace'))}"
            )
        try:
            with opener.open(f"{base}/health", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            log_text = log_path.read_text(errors="replace")
            pytest.fail(f"mlflow ui did not answer on {base} in {SERVER_START_S:.0f} s:\n{_tail(log_text)}")
        time.sleep(0.5)


@pytest.fixture
def ui_over_sweep(tmp_path: Path) -> Iterator[tuple[SweepStore, str]]:
    """A sweep's store and `mlflow ui` serving it on 127.0.0.1 (a free port); both stopped after.

    The server starts once the sweep has made the store and its first run (so that the two
    never create the schema at once), and boots while the jobs train.
    """
    _require_browser()  # before the expensive part
    db, artifacts = tmp_path / "mlflow.db", tmp_path / "mlartifacts"
    uri = f"sqlite:///{db}"
    sweep_log, ui_log = tmp_path / "sweep.log", tmp_path / "mlflow-ui.log"
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    ui_command = [
        str(VENV_BIN / "mlflow"),
        "ui",
        "--backend-store-uri",
        uri,
        "--default-artifact-root",
        artifacts.as_uri(),
        "--artifacts-destination",
        str(artifacts),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    sweep = server = None
    try:
        sweep = _start(_sweep_command(tmp_path, uri, db, artifacts), ROOT, sweep_log)
        deadline = time.monotonic() + SWEEP_TIMEOUT_S
        while sweep.poll() is None and not _store_has_a_run(db) and time.monotonic() < deadline:
            time.sleep(0.5)
        if sweep.poll() in (None, 0) and _store_has_a_run(db):
            server = _start(ui_command, tmp_path, ui_log)
        try:
            sweep.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pytest.fail(f"the sweep ran over {SWEEP_TIMEOUT_S:.0f} s:\n{_tail(sweep_log.read_text())}")
        assert sweep.returncode == 0, (
            f"the sweep failed ({sweep.returncode}):\n{_tail(sweep_log.read_text())}"
        )
        store = _read_store(uri, db, artifacts)
        assert server is not None, "the sweep left no run in its store"
        _wait_healthy(server, base, ui_log)
        yield store, base
    finally:
        _stop(sweep)
        _stop(server)


def _close_assistant(page: Any) -> None:
    """MLflow 3 opens an 'MLflow Assistant' side panel that squeezes the page; close it."""
    close = page.get_by_role("button", name="Close", exact=True)
    try:
        close.first.click(timeout=3_000)
    except Exception:  # noqa: BLE001 (no panel this time)
        pass


def _row_text(page: Any, run_id: str) -> str:
    """A runs-table row's text; ag-grid splits a row into pinned and scrolling parts."""
    rows = page.locator(f'[role="row"][row-id="{run_id}"]')
    return " ".join(rows.nth(i).inner_text() for i in range(rows.count()))


def _shows_value(text: str, value: float) -> bool:
    """Whether `text` holds a number equal to `value` as the UI rounds it (4 significant digits)."""
    numbers = re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", text, flags=re.IGNORECASE)
    return any(math.isclose(float(n), value, rel_tol=1e-3, abs_tol=1e-9) for n in numbers)


def _add_column(page: Any, name: str) -> None:
    """Columns > search > tick one param or metric (MLflow 3 shows none of them by default)."""
    page.get_by_role("button", name="Columns").click()
    dialog = page.get_by_role("dialog").filter(has=page.get_by_placeholder("Search columns"))
    dialog.get_by_placeholder("Search columns").fill(name)
    dialog.get_by_text(name, exact=True).first.click()
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")


_FIND_SCROLLING_GRID = """(anchor) => {
    const scrolls = (e) => {
        const s = getComputedStyle(e);
        return (s.overflowY === 'auto' || s.overflowY === 'scroll') && e.scrollHeight > e.clientHeight + 4;
    };
    for (let up = anchor.parentElement; up; up = up.parentElement) {
        const found = Array.from(up.querySelectorAll('*')).find(e => scrolls(e) && !e.contains(anchor));
        if (found) return found;
    }
    return null;
}"""
_INSIDE = """([grid, el]) => {
    const g = grid.getBoundingClientRect(), r = el.getBoundingClientRect();
    const y = (r.top + r.bottom) / 2;
    return y > g.top + 5 && y < g.bottom - 5;
}"""
_VALUES_BESIDE = """([grid, el]) => {
    const r = el.getBoundingClientRect();
    const y = (r.top + r.bottom) / 2;
    return Array.from(grid.querySelectorAll('*'))
        .filter(e => e.children.length === 0 && e.innerText.trim())
        .map(e => [e.getBoundingClientRect(), e.innerText.trim()])
        .filter(([b]) => Math.abs((b.top + b.bottom) / 2 - y) < 12)
        .sort((a, b) => a[0].left - b[0].left)
        .map(([, text]) => text);
}"""


def _compare_metric_values(page: Any, anchor: str, name: str) -> list[str]:
    """The values shown beside metric `name` in the compare view, one per run, left to right.

    The metrics table is virtualized: metric names in one grid, values in a scrolling grid
    beside it (found from `anchor`, a metric name on screen). It is scrolled until `name` is
    in view; the page itself never scrolls.
    """
    grid = page.get_by_text(anchor, exact=True).first.evaluate_handle(_FIND_SCROLLING_GRID)
    assert grid.as_element() is not None, "no scrolling metrics grid in the compare view"
    target = page.get_by_text(name, exact=True)
    for _ in range(60):
        # MLflow 3.17's names column follows the values column one scroll event late (after a
        # scroll stops, names and values can sit rows apart): two 1-pixel scrolls line them up.
        grid.evaluate("(g) => { g.scrollTop -= 1; }")
        page.wait_for_timeout(100)
        grid.evaluate("(g) => { g.scrollTop += 1; }")
        page.wait_for_timeout(150)
        if target.count():
            element = target.first.element_handle()
            if page.evaluate(_INSIDE, [grid, element]):
                return list(page.evaluate(_VALUES_BESIDE, [grid, element]))
        grid.evaluate("(g) => { g.scrollTop += 132; }")
        page.wait_for_timeout(150)
    raise AssertionError(f"the compare view's metrics table never showed {name}")


def _save(page: Any, path: Path) -> Path:
    page.screenshot(path=str(path), full_page=True)
    assert path.is_file() and path.stat().st_size > MIN_PNG_BYTES, f"{path} is missing or near empty"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return path


def test_mlflow_ui_lists_the_sweep_and_compares_two_runs(
    ui_over_sweep: tuple[SweepStore, str], tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    store, mlflow_ui = ui_over_sweep
    sgd, adam = store.children["sgd"], store.children["adam"]
    parent_name = store.parent.info.run_name
    shots: list[Path] = []

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = None
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.set_default_timeout(UI_TIMEOUT_MS)
            expect.set_options(timeout=UI_TIMEOUT_MS)

            # The runs page. MLflow 3 opens an experiment on its GenAI overview unless told
            # the workflow is classic model training.
            page.goto(
                f"{mlflow_ui}/#/experiments/{store.experiment_id}/runs?workflowType=machine_learning",
                wait_until="domcontentloaded",
            )
            expect(page.get_by_text(parent_name, exact=True).first).to_be_visible()
            _close_assistant(page)

            # Child runs are nested under the sweep's parent run, collapsed at first.
            child_names = [run.info.run_name for run in (sgd, adam)]
            if not page.get_by_text(child_names[0], exact=True).count():
                parent_row = page.locator(f'[role="row"][row-id="{store.parent.info.run_id}"]')
                parent_row.locator('[col-id*="Run Name"] button').first.click()
            for name in child_names:
                expect(page.get_by_text(name, exact=True).first).to_be_visible()

            # The varying parameter and the metric as columns, with each run's own values.
            for column in (PARAM, METRIC):
                _add_column(page, column)
            for run in (sgd, adam):
                run_id = run.info.run_id
                expect(page.locator(f'[role="row"][row-id="{run_id}"]').first).to_be_visible()
                deadline = time.monotonic() + UI_TIMEOUT_MS / 1000
                while True:
                    text = _row_text(page, run_id)
                    value, metric = run.data.params[PARAM], run.data.metrics[METRIC]
                    if value in text.split() and _shows_value(text, metric):
                        break
                    assert time.monotonic() < deadline, (
                        f"row of {run.info.run_name} lacks {PARAM}={run.data.params[PARAM]} "
                        f"or {METRIC}={run.data.metrics[METRIC]}: {text!r}"
                    )
                    page.wait_for_timeout(250)
            header = page.locator('[role="columnheader"]')
            expect(header.filter(has_text=PARAM).first).to_be_visible()
            expect(header.filter(has_text=METRIC).first).to_be_attached()
            shots.append(_save(page, tmp_path / "mlflow-ui-runs.png"))

            # The compare view of the two child runs, tall enough to show its tables at once.
            page.set_viewport_size({"width": 1600, "height": 1900})
            runs_arg = urllib.parse.quote(json.dumps([sgd.info.run_id, adam.info.run_id]))
            experiments_arg = urllib.parse.quote(json.dumps([store.experiment_id]))
            page.goto(
                f"{mlflow_ui}/#/compare-runs?runs={runs_arg}&experiments={experiments_arg}",
                wait_until="domcontentloaded",
            )
            expect(page.get_by_text("Comparing 2 Runs").first).to_be_visible()
            _close_assistant(page)
            for run in (sgd, adam):
                expect(page.get_by_text(run.info.run_id, exact=True).first).to_be_visible()
                expect(page.get_by_text(run.info.run_name, exact=True).first).to_be_visible()
            param_row = page.locator("tr").filter(has=page.get_by_text(PARAM, exact=True))
            expect(param_row.first).to_be_visible()
            cells = [c.strip() for c in param_row.first.locator("td").all_inner_texts()]
            assert cells == ["sgd", "adam"], f"compare view, {PARAM} row: {cells}"

            # "Show diff only" on the parameters keeps the varying ones and hides the shared ones.
            same = sorted(k for k, v in sgd.data.params.items() if adam.data.params.get(k) == v)
            assert same, "the two runs share no parameter value"
            shared_row = page.locator("tr").filter(has=page.get_by_text(same[0], exact=True))
            expect(shared_row.first).to_be_visible()
            page.get_by_role("switch", name="Show diff only").first.click()
            expect(shared_row).to_have_count(0)
            expect(param_row.first).to_be_visible()

            expect(page.get_by_text("Metrics", exact=True).first).to_be_visible()
            anchor = _first_shown(page, sorted(sgd.data.metrics))
            shown = _compare_metric_values(page, anchor, METRIC)
            expected = [sgd.data.metrics[METRIC], adam.data.metrics[METRIC]]
            assert len(shown) == 2 and all(
                _shows_value(text, value) for text, value in zip(shown, expected, strict=True)
            ), f"compare view shows {METRIC} = {shown}, the store holds {expected}"
            shots.append(_save(page, tmp_path / "mlflow-ui-compare.png"))
        except Exception:
            if page is not None:  # what the browser showed when the test failed
                failure = tmp_path / "mlflow-ui-failure.png"
                try:
                    page.screenshot(path=str(failure), full_page=True)
                    shots.append(failure)
                except Exception:  # noqa: BLE001 (the browser may be gone)
                    pass
            raise
        finally:
            browser.close()
            _publish(shots)


def _first_shown(page: Any, names: list[str]) -> str:
    """The first of `names` the page has rendered (the compare view's metric rows are virtualized)."""
    deadline = time.monotonic() + UI_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        for name in names:
            if page.get_by_text(name, exact=True).count():
                return name
        page.wait_for_timeout(250)
    raise AssertionError(f"the compare view shows none of the metrics {names}")


def _publish(shots: list[Path]) -> None:
    """Copy the screenshots to $UI_SCREENSHOT_DIR, where a developer can look at them."""
    target = os.environ.get("UI_SCREENSHOT_DIR")
    if not target:
        return
    Path(target).mkdir(parents=True, exist_ok=True)
    for shot in shots:
        shutil.copy2(shot, Path(target) / shot.name)
