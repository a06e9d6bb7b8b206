"""MemN2NConfig: the typed config of `memn2n`, with the End-To-End Memory Networks paper's bAbI
defaults (Sukhbaatar, Szlam, Weston and Fergus, 2015, arXiv:1503.08895)."""

from __future__ import annotations

from typing import Literal

from zoo.config import Config, Field


class MemN2NConfig(Config):
    vocab_size: int = Field(40, ge=2, le=1_000_000, description="words in the vocabulary, id 0 being padding")
    embedding_dim: int = Field(20, ge=1, le=4096, description="embedding size d (paper, bAbI: 20)")
    hops: int = Field(3, ge=1, le=32, description="memory hops K (paper: 3)")
    memory_size: int = Field(50, ge=1, le=100000, description="memory slots: the most recent sentences kept (paper: 50)")
    weight_tying: Literal["adjacent", "layer-wise"] = Field(
        "adjacent",
        description="adjacent: A^{k+1} = C^k, W^T = C^K, B = A^1; layer-wise (RNN-like): one A and one C for "
                    "all hops and u^{k+1} = H u^k + o^k (paper Sec. 2.2)",
    )
    position_encoding: bool = Field(True, description="weight word embeddings by their position in the sentence (PE, Sec. 4.1); off = bag of words")
    temporal_encoding: bool = Field(True, description="add learned vectors T_A(i), T_C(i) by memory recency (TE, Sec. 4.1)")
    init_std: float = Field(0.1, gt=0.0, le=10.0, description="std of the Gaussian weight initialisation (paper: 0.1)")
