"""PaperZoo plugin for k-Sparse Autoencoders (arXiv:1312.5663): being written; it registers nothing yet."""
