"""The gnn-symbolic-distill training method (being written: no hooks yet)."""
