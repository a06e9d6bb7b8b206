"""PaperZoo plugin for MLP-KAN: Unifying Deep Representation and Function Learning (in progress: provides nothing yet)."""
