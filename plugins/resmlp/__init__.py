"""PaperZoo plugin for ResMLP: Feedforward networks for image classification with data-efficient training (in progress: provides nothing yet)."""
