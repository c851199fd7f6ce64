"""Everything that touches MLflow: the store, one run's recorder, queries, the served model."""
