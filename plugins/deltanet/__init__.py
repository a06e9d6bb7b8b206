"""PaperZoo plugin for Parallelizing Linear Transformers with the Delta Rule over Sequence Length (arXiv:2406.06484): being written; it registers nothing yet."""
