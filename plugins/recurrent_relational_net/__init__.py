"""PaperZoo plugin for Recurrent Relational Networks (arXiv:1711.08028): being written; it registers nothing yet."""
