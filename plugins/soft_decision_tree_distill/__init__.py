"""The soft-decision-tree-distill training method (being written: no hooks yet)."""
