"""The Hydra entry point, a job, the sweep callback, cross-validation and the comparison command."""
