"""PaperZoo plugin for Fast Transformer Decoding: One Write-Head is All You Need (arXiv:1911.02150): being written; it registers nothing yet."""
