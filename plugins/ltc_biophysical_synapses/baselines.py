"""The standard RNNs the paper compares with: a vanilla (tanh) RNN, an LSTM and a GRU of a given
number of neurons (hidden units), each read out by a linear layer from its last hidden state."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["RecurrentBaseline", "CELLS"]

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentBaseline(nn.Module):
    """(batch, T, input_dim) -> (batch, output_dim) from the last hidden state of one recurrent layer."""

    def __init__(self, cell: str, input_dim: int, neurons: int, output_dim: int):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell {cell!r}: expected one of {sorted(CELLS)}")
        self.cell, self.neurons = cell, neurons
        self.rnn = CELLS[cell](input_dim, neurons, batch_first=True)
        self.head = nn.Linear(neurons, output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1])
