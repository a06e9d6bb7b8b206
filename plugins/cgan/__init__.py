"""PaperZoo plugin for Conditional Generative Adversarial Nets (in progress: provides nothing yet)."""
