"""The mono-forward training method (being written: no hooks yet)."""
