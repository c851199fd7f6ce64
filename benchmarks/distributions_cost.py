"""What do the per-layer distributions cost a run? One job with them and without.

    python benchmarks/distributions_cost.py [--repeats 5] [--networks "[8]" "[16,16,16,16]"] [--json d.json]

In one warm process, `run_job` (pipeline.experiments.job, tracking off, pictures drawn at
once: the worst case; `python -m pipeline.run` draws them in its picture process beside the
run) on the lab setup with `training.diagnostics=true` and `training.distributions=false`
against `=true`, the variants interleaved after an untimed warm-up of each; medians, and
the difference per job (docs/diagnostics.md).
"""

from __future__ import annotations

import time
from typing import Any

from common import compose, environment, interleaved, median, parser, quietly, report, workspace


def main() -> None:
    p = parser(__doc__, repeats=5)
    p.add_argument("--networks", nargs="*", default=["[8]", "[16,16,16,16,16,16]"])
    p.add_argument("--epochs", type=int, default=100)
    args = p.parse_args()
    from pipeline.experiments.job import run_job

    results: dict[str, Any] = {"environment": environment(), "repeats": args.repeats, "networks": {}}
    lines = [f"{'network':<22}{'without (s)':>12}{'with (s)':>10}{'difference':>12}"]
    with workspace(args) as ws:
        for network in args.networks:
            configs = {
                setting: compose(
                    ws.lab(
                        args.epochs,
                        "training.diagnostics=true",
                        f"training.distributions={setting}",
                        f"model.hidden_units={network}",
                        "tracking.enabled=false",
                        "training.progress=false",
                    )
                )
                for setting in ("false", "true")
            }

            def job(setting: str, configs: dict[str, Any] = configs, network: str = network) -> float:
                started = time.perf_counter()
                quietly(lambda: run_job(configs[setting], ws.tmp / "jobs" / f"{network}-{setting}"))
                return time.perf_counter() - started

            for setting in configs:  # warm-up: tracing, imports, the prepared data
                job(setting)
            times = interleaved({s: (lambda s=s: job(s)) for s in configs}, args.repeats)
            off, on = median(times["false"]), median(times["true"])
            results["networks"][network] = {"without_s": off, "with_s": on, "difference_s": on - off}
            lines.append(f"{network:<22}{off:>12.3f}{on:>10.3f}{on - off:>+11.3f}s")
    report(results, lines, args.json)


if __name__ == "__main__":
    main()
