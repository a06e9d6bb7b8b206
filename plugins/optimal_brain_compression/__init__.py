"""The optimal-brain-compression training method (being written: no hooks yet)."""
