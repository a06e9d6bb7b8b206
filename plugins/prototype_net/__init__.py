"""PaperZoo plugin for Deep Learning for Case-Based Reasoning through Prototypes: A Neural Network that Explains Its Predictions (arXiv:1710.04806): being written; it registers nothing yet."""
