"""The five DVC stages, thin entry points: `python -m pipeline.stages.<name>` reads params.yaml;
`python -m pipeline.stages.lock` checks the committed dvc.lock after them (`make check-lock`)."""
