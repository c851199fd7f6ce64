"""One job recording through the project's tracking code: `python tracked_job.py URI NAME FOLDER`.

What `pipeline.run` does around training, without TensorFlow: `tracked_run` opens the run
(getting or creating the experiment in a store that may not exist yet), then params, three
epochs of metrics and a tag go through its RunRecorder, and the run ends FINISHED.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pipeline.core.config import PathsConfig, TrackingConfig
from pipeline.tracking.recorder import tracked_run

EPOCHS = 3


def main(uri: str, name: str, folder: Path) -> None:
    tracking = TrackingConfig(uri=uri, experiment="keras-regression", run_name=name)
    paths = PathsConfig(**{key: str(folder / key) for key in PathsConfig.model_fields})
    with tracked_run(tracking, paths, run_name=name) as recorder:
        assert recorder is not None
        recorder.log_params({"job": name})
        for epoch in range(1, EPOCHS + 1):
            recorder.log_metrics({"val_loss": 1.0 / epoch}, step=epoch)
        recorder.set_tags({"epochs_run": EPOCHS})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
