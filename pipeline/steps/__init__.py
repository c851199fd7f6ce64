"""Library steps below the experiments and the DVC stages: train-and-record and
evaluate-and-record, the work a DVC stage and a Hydra job (or `pipeline.api`) share."""
