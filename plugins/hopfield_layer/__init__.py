"""PaperZoo plugin for Hopfield Networks is All You Need (in progress: provides nothing yet)."""
