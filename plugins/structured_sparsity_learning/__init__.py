"""The structured-sparsity-learning training method (being written: no hooks yet)."""
