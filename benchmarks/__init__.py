"""Benchmarks and paper-claim reproductions. Run from the repository root, e.g.
``python -m benchmarks.repro.kan_toy``; each writes a record under benchmarks/results/."""
