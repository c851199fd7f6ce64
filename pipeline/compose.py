"""`python -m pipeline.compose`: write params.yaml from conf/ (pipeline.experiments.compose)."""

from pipeline.experiments.compose import main

if __name__ == "__main__":
    main()
