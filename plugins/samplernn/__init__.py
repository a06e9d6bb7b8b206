"""PaperZoo plugin for SampleRNN: An Unconditional End-to-End Neural Audio Generation Model (arXiv:1612.07837): being written; it registers nothing yet."""
