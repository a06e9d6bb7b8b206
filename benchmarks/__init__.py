"""Benchmarks that span models: core overheads, listing at scale, the training loop. Run from the
repository root, e.g. ``python -m benchmarks.perf.listing``; each writes a record under
benchmarks/results/core/. A paper's own reproduction and speed scripts live in its plugin folder
and run with ``zoo reproduce NAME``."""

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "core"
