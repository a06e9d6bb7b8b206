"""PaperZoo plugin for Deep Interest Network for Click-Through Rate Prediction (arXiv:1706.06978): being written; it registers nothing yet."""
