"""The adaround training method (being written: no hooks yet)."""
