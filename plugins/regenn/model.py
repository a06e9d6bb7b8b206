"""ReGENN (Spadon, Hong, Brandoli, Matwin, Rodrigues-Jr & Sun, "Pay Attention to Evolution: Time
Series Forecasting with Deep Graph-Evolution Learning", TPAMI 2021): multivariate forecasting that
learns the relations between co-occurring series as a graph, lets that graph evolve with the data,
and runs recurrent cells over the graph-filtered series.

For a window X in R^{w x v} (w steps of v series) the model computes, in order:

1. Autoencoder encoder: a linear map over the time axis compresses the window to w' steps,
   E = X^T W_enc + b_enc in R^{v x w'} (each series is encoded by the same map).
2. Graph soft evolution (GSE): the window's co-occurrence graph C = X^T X / w in R^{v x v} (how
   strongly series co-vary now) is combined with the learned relations: the evolved graph

       A_t = R + M * C        (R: learned relation graph, M: learned evolution weights, * elementwise)

   and one graph convolution propagates each series' encoding from the series that relate to it,
   G = A_t E (row i gathers sum_j A_t[i, j] E_j: series j informs series i).
3. Recurrent evolution: per series, the sequence of [E_k, G_k] over the w' encoded steps runs
   through a recurrent cell (LSTM by default) shared by all series; its last state h_i summarises
   series i's own history and the history of the series related to it.
4. Decoder: a linear map from h_i to the `horizon` next values of series i.

Output (batch, horizon * v), step-major as the `dynamics/coupled` task's targets. `relation_graph()`
gives R + M * C_mean (C averaged over the training windows, given) for comparison with a planted graph.

Departures: the paper's architecture is described at the level of blocks (autoencoder, graph soft
evolution, recurrent learning, evolution weights); where its exact wiring is not recalled here we
chose the simplest reading above and say so: the co-occurrence graph is computed per window (the
"evolving" graph) rather than once over the training set, the decoder is a linear layer per series,
and there is one GSE layer and one recurrent layer. The paper's multi-stage input (several
multivariate samples sharing one graph) reduces here to one multivariate series.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import ReGENNConfig

__all__ = ["ReGENN", "co_occurrence"]

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


def co_occurrence(x: torch.Tensor) -> torch.Tensor:
    """C = X^T X / w of each window: (batch, w, v) -> (batch, v, v)."""
    return x.transpose(1, 2) @ x / x.shape[1]


class ReGENN(nn.Module):
    """(batch, lookback, n_series) window -> (batch, horizon * n_series) forecast, step-major."""

    def __init__(self, config: ReGENNConfig | None = None):
        super().__init__()
        self.config = config = config or ReGENNConfig()
        v = config.n_series
        self.encoder = nn.Linear(config.lookback, config.encoded_steps)
        self.relations = nn.Parameter(torch.zeros(v, v))  # R, learned from zero: no relation assumed
        self.evolution = nn.Parameter(torch.zeros(v, v))  # M, how much the window's co-occurrence counts
        self.recurrent = CELLS[config.cell](2, config.hidden_dim, batch_first=True)
        self.dropout = nn.Dropout(config.dropout)
        self.decoder = nn.Linear(config.hidden_dim, config.horizon)

    def evolved_graph(self, x: torch.Tensor) -> torch.Tensor:
        """A_t = R + M * C(x) for each window: (batch, w, v) -> (batch, v, v)."""
        return self.relations + self.evolution * co_occurrence(x)

    def relation_graph(self, mean_co_occurrence: torch.Tensor | None = None) -> torch.Tensor:
        """The learned graph without a window (R), or at the average co-occurrence (R + M * C_mean)."""
        graph = self.relations.detach()
        if mean_co_occurrence is not None:
            graph = graph + self.evolution.detach() * mean_co_occurrence
        return graph

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise TypeError(f"regenn expects a floating-point tensor (batch, {cfg.lookback}, {cfg.n_series}), got "
                            f"{getattr(x, 'dtype', type(x).__name__)}")
        if x.dim() != 3 or tuple(x.shape[1:]) != (cfg.lookback, cfg.n_series):
            raise ValueError(f"regenn expects input of shape (batch, {cfg.lookback}, {cfg.n_series}) (lookback, "
                             f"series), got {tuple(x.shape)}")
        batch, v = x.shape[0], cfg.n_series
        encoded = self.encoder(x.transpose(1, 2))  # (batch, v, w'): step 1
        propagated = self.evolved_graph(x) @ encoded  # (batch, v, w'): step 2, G = A_t E
        steps = torch.stack([encoded, propagated], -1).reshape(batch * v, cfg.encoded_steps, 2)
        out, _ = self.recurrent(steps)  # step 3, one cell shared by all series
        forecast = self.decoder(self.dropout(out[:, -1])).reshape(batch, v, cfg.horizon)  # step 4
        return forecast.transpose(1, 2).reshape(batch, cfg.horizon * v)
