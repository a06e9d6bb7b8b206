"""The ot-model-fusion training method (being written: no hooks yet)."""
