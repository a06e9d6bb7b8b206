"""PaperZoo plugin for FiLM: Visual Reasoning with a General Conditioning Layer (in progress: provides nothing yet)."""
