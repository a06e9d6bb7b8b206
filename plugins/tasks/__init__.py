"""PaperZoo plugin: the built-in tasks on bundled and generated data (in progress)."""
