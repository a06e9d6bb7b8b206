"""PaperZoo plugin for Unsupervised Learning of Video Representations using LSTMs (arXiv:1502.04681): being written; it registers nothing yet."""
