"""The sparse-evolutionary-training training method (being written: no hooks yet)."""
