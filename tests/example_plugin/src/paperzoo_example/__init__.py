"""An example third-party PaperZoo plugin (kept empty: the catalog beside it is found without running it)."""
