"""FiLMConfig: the typed config of `film`, with the paper's defaults for its model trained from
raw pixels (arXiv:1709.07871, Sec. 5 and Appendix). vocab_size and num_answers default to the
zoo's `sort-of-clevr` task and are normally set from the task."""

from __future__ import annotations

from zoo.config import Config, Field


class FiLMConfig(Config):
    in_chans: int = Field(3, ge=1, le=256, description="image channels")
    vocab_size: int = Field(15, ge=2, le=1_000_000, description="question tokens, padding id 0 included (set from the task)")
    num_answers: int = Field(12, ge=2, le=100_000, description="answer classes (set from the task)")
    embedding_dim: int = Field(200, ge=1, le=65_536, description="word embedding size of the question encoder")
    rnn_dim: int = Field(4096, ge=1, le=65_536, description="GRU hidden size; its last state is the question embedding")
    stem_layers: int = Field(4, ge=0, le=16, description="convolutions of the image stem (raw-pixel model: 4)")
    stem_channels: int = Field(128, ge=1, le=65_536, description="feature maps of every stem convolution")
    stem_kernel: int = Field(4, ge=1, le=31, description="stem kernel size (paper: 4x4, padding 1)")
    stem_stride: int = Field(2, ge=1, le=8, description="stem stride: each stem layer halves the maps at 2")
    num_blocks: int = Field(4, ge=1, le=64, description="FiLM-ed residual blocks")
    block_channels: int = Field(128, ge=1, le=65_536, description="feature maps of every residual block")
    classifier_proj_dim: int = Field(512, ge=1, le=65_536, description="1x1 convolution width before global max pooling")
    classifier_fc_dim: int = Field(1024, ge=1, le=65_536, description="hidden units of the classifier MLP")
