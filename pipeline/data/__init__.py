"""Data: sources, reading and checking files, features, the prepared partitions. Imports only core."""
