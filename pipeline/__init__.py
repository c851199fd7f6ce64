"""Tracked experiment pipeline for Keras regression networks."""
