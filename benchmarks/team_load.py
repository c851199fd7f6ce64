"""Two sweeps of 4 workers each recording into one team server at once: is every run, metric
point and model there, how many runs per second, and how busy is the server?

    python benchmarks/team_load.py [--epochs 100] [--workers 4] [--json team_load.json]

Starts a throwaway PostgreSQL cluster and `mlflow server --app-name basic-auth
--serve-artifacts` on it (tests/team_server.py, the tests' own fixture code), then, at the
same moment and as a team member, two `python -m pipeline.run -m
optimizer=sgd,adam,rmsprop,momentum hydra/launcher=joblib hydra.launcher.n_jobs=4` commands
into one experiment. Counts on the server every run (FINISHED), every per-epoch metric point
(each job's history.csv says how many there should be) and every stored model; reports runs
per second of the whole load, and the CPU seconds the MLflow server's processes and
PostgreSQL's spent during it. Exit status 1 if anything is missing. `--auth-cache-ttl 0`
measures MLflow's default, where every request pays for a password hash check.
"""

from __future__ import annotations

import csv
import math
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
from common import FACEBOOK_CSV, ROOT, environment, parser, report, workspace

sys.path.insert(0, str(ROOT / "tests"))
from team_server import ADMIN, start_postgres, start_team_server  # noqa: E402

OPTIMIZERS = "sgd,adam,rmsprop,momentum"
EXPERIMENT = "team-load"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(root_pid: int) -> float:
    """CPU seconds of a process, its live descendants and the children it has reaped."""
    root = psutil.Process(root_pid)
    times = root.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in root.children(recursive=True):
        try:
            times = child.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def settle(pid: int, window_s: float = 3.0, quiet_s: float = 0.3, limit_s: float = 90.0) -> float:
    """Wait until the server is idle (its job consumers start for some seconds after its
    health check answers); its idle CPU seconds per second then."""
    deadline = time.monotonic() + limit_s
    while True:
        before = cpu_seconds(pid)
        time.sleep(window_s)
        used = cpu_seconds(pid) - before
        if used < quiet_s or time.monotonic() > deadline:
            return used / window_s


def history(job: Path) -> list[dict[str, str]]:
    with open(job / "history.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def expected_points(rows: list[dict[str, str]]) -> int:
    """Per-epoch metric points a job records: its history's finite cells, less `epoch`."""
    return sum(1 for row in rows for key, value in row.items() if key != "epoch" and finite(value))


def finite(value: str) -> bool:
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def main() -> None:
    p = parser(__doc__, repeats=None)
    p.add_argument("--epochs", type=int, default=100, help="epochs per job (default 100, the lab)")
    p.add_argument("--workers", type=int, default=4, help="joblib workers per sweep (default 4)")
    p.add_argument(
        "--auth-cache-ttl",
        type=int,
        default=60,
        help="the server's basic_auth.ini auth_cache_ttl_seconds (default 60, as README's team server; "
        "0, MLflow's default, checks the password hash on every request)",
    )
    args = p.parse_args()
    results: dict[str, Any] = {"environment": environment(), "epochs": args.epochs, "workers": args.workers}
    results["auth_cache_ttl_s"] = args.auth_cache_ttl
    with workspace(args) as ws:
        postgres = start_postgres(free_port())
        server = None
        try:
            (ws.tmp / "server").mkdir()
            server = start_team_server(postgres, ws.tmp / "server", free_port(), args.auth_cache_ttl)
            results |= load(ws, server, args.epochs, args.workers)
        finally:
            if server is not None:
                server.stop()
            postgres.stop()
            shutil.rmtree(postgres.folder, ignore_errors=True)
    lines = [
        f"2 sweeps x {args.workers} workers, {args.epochs} epochs a job, into PostgreSQL + basic auth "
        f"(auth_cache_ttl_seconds = {args.auth_cache_ttl}):",
        f"  runs      {results['runs_found']}/{results['runs_expected']} FINISHED",
        f"  points    {results['points_found']}/{results['points_expected']} per-epoch metric points",
        f"  models    {results['models_found']}/{results['models_expected']} on the server",
        f"  wall      {results['wall_s']:.1f} s for both sweeps: {results['runs_per_s']:.3f} job runs/s, "
        f"{results['points_per_s']:.0f} points/s",
        f"  server    {results['server_cpu_s']:.1f} CPU s ({results['server_cpu_pct']:.0f} % of one core), "
        f"PostgreSQL {results['postgres_cpu_s']:.1f} CPU s ({results['postgres_cpu_pct']:.0f} %); "
        f"the idle server {results['server_idle_cpu_pct']:.0f} %",
    ]
    report(results, lines, args.json)
    complete = all(results[f"{k}_found"] == results[f"{k}_expected"] for k in ("runs", "points", "models"))
    if not complete:
        raise SystemExit(1)


def load(ws: Any, server: Any, epochs: int, workers: int) -> dict[str, Any]:
    """Run the two sweeps at once against `server`; what reached it, how fast, at what CPU cost."""
    from mlflow import MlflowClient

    env = {k: v for k, v in ws.env().items() if k != "MLFLOW_TRACKING_URI"} | server.credentials()
    postmaster = int((postgres_data(server) / "postmaster.pid").read_text().split()[0])
    idle = settle(server.process.pid)
    sweeps = []
    server_before, postgres_before = cpu_seconds(server.process.pid), cpu_seconds(postmaster)
    started = time.perf_counter()
    for name in ("a", "b"):
        command = [sys.executable, "-m", "pipeline.run", "-m", f"optimizer={OPTIMIZERS}"]
        command += ["dataset=facebook", f"dataset.path={FACEBOOK_CSV}", f"training.epochs={epochs}"]
        command += [*ws.overrides[:-1], f"tracking.uri={server.url}", f"tracking.experiment={EXPERIMENT}"]
        command += ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={workers}"]
        command += [f"hydra.sweep.dir={ws.tmp / f'sweep-{name}'}", f"tracking.sweep_name=load-{name}"]
        log = open(ws.tmp / f"sweep-{name}.log", "w")  # noqa: SIM115 - closed below
        sweeps.append((subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log), log))
    codes = [process.wait() for process, _ in sweeps]
    wall = time.perf_counter() - started
    server_cpu = cpu_seconds(server.process.pid) - server_before
    postgres_cpu = cpu_seconds(postmaster) - postgres_before
    for _, log in sweeps:
        log.close()
    for code, name in zip(codes, "ab", strict=True):
        if code != 0:
            print((ws.tmp / f"sweep-{name}.log").read_text()[-3000:], file=sys.stderr)
            raise SystemExit(f"sweep {name} exited {code}")

    os.environ["MLFLOW_TRACKING_USERNAME"] = ADMIN  # read back as the server's admin
    os.environ["MLFLOW_TRACKING_PASSWORD"] = server.admin_password
    client = MlflowClient(server.url)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    histories = [history(p.parent) for p in ws.tmp.glob("sweep-*/*/job.json")]
    per_epoch = {key for rows in histories for key in rows[0] if key != "epoch"}
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    points = sum(
        len(client.get_metric_history(run.info.run_id, key))
        for run in children
        for key in run.data.metrics
        if key in per_epoch
    )
    count = 2 * len(OPTIMIZERS.split(","))
    return {
        "runs_expected": count + 2,
        "runs_found": sum(1 for r in runs if r.info.status == "FINISHED"),
        "points_expected": sum(expected_points(rows) for rows in histories),
        "points_found": points,
        "models_expected": count,
        "models_found": len(list(server.artifacts.rglob("model.keras"))),
        "wall_s": wall,
        "runs_per_s": count / wall,
        "points_per_s": points / wall,
        "server_idle_cpu_pct": 100 * idle,
        "server_cpu_s": server_cpu,
        "server_cpu_pct": 100 * server_cpu / wall,
        "postgres_cpu_s": postgres_cpu,
        "postgres_cpu_pct": 100 * postgres_cpu / wall,
    }


def postgres_data(server: Any) -> Path:
    return Path(server.postgres.folder) / "data"


if __name__ == "__main__":
    main()
