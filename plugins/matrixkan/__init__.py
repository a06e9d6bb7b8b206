"""PaperZoo plugin for MatrixKAN: Parallelized Kolmogorov-Arnold Network (in progress: provides nothing yet)."""
