"""PaperZoo plugin for Neural Autoregressive Distribution Estimation (in progress: provides nothing yet)."""
