"""PaperZoo plugin for Neural Arithmetic Units (arXiv:2001.05016): being written; it registers nothing yet."""
