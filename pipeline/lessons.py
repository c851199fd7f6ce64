"""`python -m pipeline.lessons`: every lesson run and its finding checked (pipeline.experiments.lessons)."""

from pipeline.core.errors import run_cli
from pipeline.experiments.lessons import main

if __name__ == "__main__":
    run_cli(main)
