"""What does the progress line cost? The lab network's fit with progress off, on a terminal
(tqdm redrawing in place) and on a pipe (plain lines every epoch, the worst case).

    python benchmarks/progress_cost.py [--repeats 5] [--epochs 100] [--json progress.json]

In one warm process, the project's fused loop (`pipeline.model.training.fit`) on the
Facebook data, interleaved; the terminal is a stream that says it is one, so tqdm draws
exactly as on a real terminal. Prints the median time of each and the cost against off.
"""

from __future__ import annotations

import io
import time
from typing import Any

from common import arrays, compose, environment, interleaved, median, parser, report, workspace


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def main() -> None:
    p = parser(__doc__, repeats=5)
    p.add_argument("--epochs", type=int, default=100)
    args = p.parse_args()
    from pipeline.model.training import fit
    from pipeline.reports.progress import epoch_progress

    with workspace(args) as ws:
        cfg = compose(ws.lab(args.epochs))
        x, y, xv, yv = arrays(cfg)
        fit(cfg.model, cfg.optimizer, cfg.training, (x, y), (xv, yv))  # tracing, untimed

        def timed(stream: io.StringIO | None, interval_s: float = 10.0) -> float:
            training = cfg.training.model_copy(
                update={"progress": stream is not None, "progress_interval_s": interval_s}
            )
            started = time.perf_counter()
            with epoch_progress(training, "train", stream or io.StringIO()) as progress:
                fit(cfg.model, cfg.optimizer, training, (x, y), (xv, yv), on_epoch=progress)
            return time.perf_counter() - started

        times = interleaved(
            {
                "off": lambda: timed(None),
                "terminal": lambda: timed(Terminal()),
                "pipe, a line every epoch": lambda: timed(io.StringIO(), 0.0),
            },
            args.repeats,
        )
    medians = {name: median(values) for name, values in times.items()}
    off = medians["off"]
    results: dict[str, Any] = {"environment": environment(), "epochs": args.epochs, "median_s": medians}
    lines = [f"{'progress':<26}{'median (s)':>11}{'cost':>8}"]
    for name, value in medians.items():
        lines.append(f"{name:<26}{value:>11.3f}{value / off - 1:>8.1%}")
    report(results, lines, args.json)


if __name__ == "__main__":
    main()
