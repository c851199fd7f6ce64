"""The bottom layer: the config schema, the user-error type, atomic file writes and every file name."""
