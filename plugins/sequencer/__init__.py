"""PaperZoo plugin for Sequencer: Deep LSTM for Image Classification (arXiv:2205.01972): being written; it registers nothing yet."""
