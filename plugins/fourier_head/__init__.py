"""PaperZoo plugin for Fourier Head: Helping Large Language Models Learn Complex Probability Distributions (arXiv:2410.22269): being written; it registers nothing yet."""
