"""`python -m pipeline.compare`: compare the runs of a sweep (pipeline.experiments.compare)."""

from pipeline.core.errors import run_cli
from pipeline.experiments.compare import main

if __name__ == "__main__":
    run_cli(main)
