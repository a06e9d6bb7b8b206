"""PaperZoo plugin for End-To-End Memory Networks (in progress: provides nothing yet)."""
