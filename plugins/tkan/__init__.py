"""PaperZoo plugin for TKAN: Temporal Kolmogorov-Arnold Networks (in progress: provides nothing yet)."""
