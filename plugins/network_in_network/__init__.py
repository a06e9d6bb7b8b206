"""PaperZoo plugin for Network In Network (in progress: provides nothing yet)."""
