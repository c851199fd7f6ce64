"""`python -m pipeline.upload`: send run records kept while a tracking server was away
(pipeline.tracking.upload)."""

from pipeline.core.errors import run_cli
from pipeline.tracking.upload import main

if __name__ == "__main__":
    run_cli(main)
