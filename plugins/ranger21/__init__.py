"""The ranger21 training method (being written: no hooks yet)."""
