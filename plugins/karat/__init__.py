"""PaperZoo plugin for Kolmogorov-Arnold Attention: Is Learnable Attention Better For Vision Transformers? (in progress: provides nothing yet)."""
