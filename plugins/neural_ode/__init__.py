"""PaperZoo plugin for Neural Ordinary Differential Equations (in progress: provides nothing yet)."""
