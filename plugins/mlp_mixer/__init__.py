"""PaperZoo plugin for MLP-Mixer: An all-MLP Architecture for Vision (in progress: provides nothing yet)."""
