"""The group-dro training method (being written: no hooks yet)."""
