"""The collaborative-ff training method (being written: no hooks yet)."""
