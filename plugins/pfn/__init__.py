"""PaperZoo plugin for Transformers Can Do Bayesian Inference (in progress: provides nothing yet)."""
