"""PaperZoo plugin for Activation Space Selectable Kolmogorov-Arnold Networks (in progress: provides nothing yet)."""
