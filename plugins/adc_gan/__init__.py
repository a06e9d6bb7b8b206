"""PaperZoo plugin for Conditional GANs with Auxiliary Discriminative Classifier (arXiv:2107.10060): being written; it registers nothing yet."""
