"""PaperZoo plugin for Model Comparisons: XNet Outperforms KAN (in progress: provides nothing yet)."""
