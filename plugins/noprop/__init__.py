"""The noprop training method (being written: no hooks yet)."""
