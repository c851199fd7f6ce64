"""Tracked Keras experiments: DVC stages, Hydra config, MLflow runs.

Layers, each importing only those before it: core, data, model, tracking, reports, steps,
experiments, stages (the DVC stages). `python -m pipeline.run`, `pipeline.compare` and
`pipeline.compose` are the commands people type, each handing over to pipeline.experiments;
`pipeline.api` is the Python API for notebooks; `pipeline.upload` sends the records kept
while a tracking server was away (pipeline.tracking.upload).
"""
