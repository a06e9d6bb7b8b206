"""The lth-rewinding training method (being written: no hooks yet)."""
