"""PaperZoo plugin for AR-Net: A simple Auto-Regressive Neural Network for time-series (arXiv:1911.12436): being written; it registers nothing yet."""
