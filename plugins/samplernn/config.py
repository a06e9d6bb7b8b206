"""SampleRNNConfig: the typed config of `samplernn`, with the defaults of Mehri et al. (2016,
arXiv:1612.07837): the 3-tier model (frame sizes 8 and 2 above a sample-level MLP over the 2 last
samples), GRU tiers of 1024 units, 256 quantisation levels, truncated BPTT over 512 samples."""

from __future__ import annotations

from typing import Literal

from zoo.config import Config, Field


class SampleRNNConfig(Config):
    frame_sizes: list[int] = Field(
        [8, 2], min_length=1, max_length=6,
        description="frame size of each RNN tier, top first; each must divide the one above; the sample-level MLP "
                    "reads the last frame_sizes[-1] samples ([8, 2]: the 3-tier model, [16]: 2-tier, [1]: an RNN "
                    "over samples)")
    dim: int = Field(1024, ge=2, le=16384, description="units of every GRU tier and MLP layer")
    rnn_layers: int = Field(1, ge=1, le=8, description="stacked GRU layers in each tier")
    embedding_dim: int = Field(256, ge=1, le=4096, description="size of the sample-level MLP's input embeddings")
    q_levels: int = Field(256, ge=2, le=65536, description="quantisation levels of a sample")
    quantization: Literal["linear", "mu-law"] = Field("linear", description="how [-1, 1] maps to the levels")
    seq_len: int = Field(512, ge=1, le=1000000, description="samples per truncated-BPTT subsequence")
    learn_h0: bool = Field(True, description="learn the initial hidden state of every tier")
    weight_norm: bool = Field(True, description="weight normalisation on the linear layers, as in the authors' code")
