"""PaperZoo plugin for PowerNorm: Rethinking Batch Normalization in Transformers (arXiv:2003.07845): being written; it registers nothing yet."""
