"""The five DVC stages, thin entry points: `python -m pipeline.stages.<name>` reads params.yaml."""
