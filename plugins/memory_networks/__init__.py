"""PaperZoo plugin for Memory Networks (arXiv:1410.3916): being written; it registers nothing yet."""
