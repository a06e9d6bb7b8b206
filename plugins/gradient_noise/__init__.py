"""The gradient-noise training method (being written: no hooks yet)."""
