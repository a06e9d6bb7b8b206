"""PaperZoo plugin for TabM: Advancing Tabular Deep Learning with Parameter-Efficient Ensembling (in progress: provides nothing yet)."""
