"""PaperZoo plugin for AF-KAN: Activation Function-Based Kolmogorov-Arnold Networks (in progress: provides nothing yet)."""
