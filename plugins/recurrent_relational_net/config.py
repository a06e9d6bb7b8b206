"""RRNConfig: the typed config of `recurrent-relational-net`, with the Sudoku defaults of Palm,
Paquet and Winther (2018, arXiv:1711.08028): 9x9 grids, 16-dimensional digit/row/column
embeddings, 96 hidden units, 3-layer MLPs, an LSTM node update, 32 steps."""

from __future__ import annotations

from zoo.config import Config, Field


class RRNConfig(Config):
    box_size: int = Field(3, ge=2, le=5, description="b: the grid is b^2 x b^2 with b x b boxes (paper: 3, 9x9 Sudoku)")
    hidden_dim: int = Field(96, ge=1, le=4096, description="units of every MLP layer, of the messages and of the LSTM state (paper: 96)")
    embedding_dim: int = Field(16, ge=1, le=1024, description="size of the digit, row and column embeddings (paper: 16)")
    mlp_layers: int = Field(3, ge=1, le=10, description="linear layers of the input MLP and of the message MLP f (paper: 3)")
    steps: int = Field(32, ge=1, le=256, description="T: message-passing steps run by default, in training and at test (paper: 32)")
