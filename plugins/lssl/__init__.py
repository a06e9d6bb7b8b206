"""PaperZoo plugin for Combining Recurrent, Convolutional, and Continuous-time Models with Linear State-Space Layers (arXiv:2110.13985): being written; it registers nothing yet."""
