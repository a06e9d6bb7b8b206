"""The novograd training method (being written: no hooks yet)."""
