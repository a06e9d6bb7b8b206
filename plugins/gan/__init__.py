"""PaperZoo plugin for Generative Adversarial Networks (in progress: provides nothing yet)."""
