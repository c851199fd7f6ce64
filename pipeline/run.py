"""`python -m pipeline.run`: the Hydra entry point (pipeline.experiments.run)."""

from pipeline.experiments.run import main

if __name__ == "__main__":
    main()
