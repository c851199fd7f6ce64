"""What do per-epoch diagnostics cost? The lab setup fitted with diagnostics off and on.

    python benchmarks/diagnostics_cost.py [--repeats 2] [--networks "[8]" "[64,64,64]"] [--json diag.json]

For each network size, the project's fused loop (`pipeline.model.training.fit`) on the
Facebook data with `training.diagnostics=false` and `=true`, the first fit of each untimed
(tracing); prints the best time of each setting and the relative cost (docs/diagnostics.md).
"""

from __future__ import annotations

import time
from typing import Any

from common import arrays, compose, environment, parser, report, workspace


def main() -> None:
    p = parser(__doc__, repeats=2)
    p.add_argument("--networks", nargs="*", default=["[8]", "[64,64,64]", "[256,256]"])
    p.add_argument("--epochs", type=int, default=100)
    args = p.parse_args()
    from pipeline.model.network import build_model
    from pipeline.model.training import fit

    results: dict[str, Any] = {"environment": environment(), "repeats": args.repeats, "networks": {}}
    lines = [f"{'network':<16}{'params':>9}{'off (s)':>10}{'on (s)':>10}{'cost':>8}"]
    with workspace(args) as ws:
        for network in args.networks:
            best = {}
            for setting in ("false", "true"):
                cfg = compose(
                    ws.lab(args.epochs, f"training.diagnostics={setting}", f"model.hidden_units={network}")
                )
                x, y, xv, yv = arrays(cfg)
                times = []
                for _ in range(args.repeats + 1):  # the first fit of a structure includes tracing
                    started = time.perf_counter()
                    fit(cfg.model, cfg.optimizer, cfg.training, (x, y), (xv, yv))
                    times.append(time.perf_counter() - started)
                best[setting] = min(times[1:])
            params = build_model(x.shape[1], cfg.model).count_params()
            cost = best["true"] / best["false"] - 1
            results["networks"][network] = {
                "params": params,
                "off_s": best["false"],
                "on_s": best["true"],
                "cost": cost,
            }
            lines.append(f"{network:<16}{params:>9,}{best['false']:>10.3f}{best['true']:>10.3f}{cost:>8.0%}")
    report(results, lines, args.json)


if __name__ == "__main__":
    main()
