"""The dfa training method (being written: no hooks yet)."""
