"""MemNNConfig: the typed config of `memory-networks`, with the defaults of Weston, Chopra and
Bordes (2014, arXiv:1410.3916): k = 2 output hops, bag-of-words features, write-time features on,
a margin ranking loss."""

from __future__ import annotations

from zoo.config import Config, Field


class MemNNConfig(Config):
    vocab_size: int = Field(33, ge=2, le=1_000_000, description="words in the vocabulary, id 0 being padding")
    memory_size: int = Field(50, ge=1, le=100000, description="memory slots: the most recent sentences kept")
    embedding_dim: int = Field(
        50, ge=1, le=4096,
        description="n, rows of U_O and U_R (the paper picks n on validation and does not state it for the "
                    "simulated world; 50 here)")
    hops: int = Field(2, ge=1, le=8, description="k, supporting memories retrieved by O one after the other (paper: 2)")
    time_features: bool = Field(
        True, description="write-time features (Sec. 3.4): O compares memories pairwise, s_Ot(x, y, y'), and keeps "
                          "a running winner; off: O is the argmax of s_O(x, m) (Eq. 2-3)")
    margin: float = Field(0.1, gt=0.0, le=100.0, description="gamma of the margin ranking loss (Eq. 6-8)")
    init_std: float = Field(0.1, gt=0.0, le=10.0, description="std of the Gaussian initialisation of U_O and U_R")
