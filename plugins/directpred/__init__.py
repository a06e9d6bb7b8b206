"""The directpred training method (being written: no hooks yet)."""
