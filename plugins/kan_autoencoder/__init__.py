"""PaperZoo plugin for Kolmogorov-Arnold Network Autoencoders (in progress: provides nothing yet)."""
