"""The multistage-nn training method (being written: no hooks yet)."""
