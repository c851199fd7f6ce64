"""Tracked Keras experiments: DVC stages, Hydra config, MLflow runs.

Layers, each importing only those before it: core, data, model, tracking, reports, stages,
experiments. `python -m pipeline.run`, `pipeline.compare` and `pipeline.compose` are the
commands people type; each hands over to pipeline.experiments.
"""
