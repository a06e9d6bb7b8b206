"""PaperZoo plugin for Pointer Networks (in progress: provides nothing yet)."""
