"""Transformers Can Do Bayesian Inference (Mueller, Hollmann, Pineda Arango, Grabocka & Hutter, 2022,
arXiv:2112.10510): a Prior-Data Fitted Network.

A PFN q_theta(y | x, D) is trained only on data sampled from a prior: each step draws datasets
D ∪ {(x_i, y_i)} from the prior, shows the network the training part D and asks for the held-out
y_i, minimising the prior-data NLL  E[-log q_theta(y_i | x_i, D)]. Its minimiser is the posterior
predictive distribution (PPD) of the prior, so after training one forward pass does approximate
Bayesian inference on a new dataset.

Architecture as in the paper: a transformer encoder without positional encodings (the input is a
set). A training point enters as the sum of a linear embedding of x and one of y; a query point
as the embedding of x alone. The attention mask lets training points attend to each other and
query points attend to the training points only, so predictions for queries are independent of
each other and invariant to the order of the training set. A two-layer head maps each query
position to the logits of a Riemann (bar) distribution (`bar_distribution.py`).

Departures from the paper: none in the architecture. Training draws the number of training
points per batch uniformly in [1, N - 1] (the paper samples it per batch too); the prior is the
task's (see `prior.py`).
"""

from __future__ import annotations

import torch
from torch import nn

from .bar_distribution import BarDistribution, equal_probability_borders
from .config import PFNConfig

__all__ = ["PFN"]


class PFN(nn.Module):
    """forward(x_train (B, N, x_dim), y_train (B, N), x_query (B, M, x_dim)) -> bar logits (B, M, K)."""

    def __init__(self, config: PFNConfig | None = None):
        super().__init__()
        self.config = c = config or PFNConfig()
        self.x_encoder = nn.Linear(c.x_dim, c.emsize)
        self.y_encoder = nn.Linear(1, c.emsize)
        layer = nn.TransformerEncoderLayer(c.emsize, c.nhead, c.nhid, c.dropout, activation="gelu", batch_first=True)
        self.transformer = nn.TransformerEncoder(layer, c.nlayers, enable_nested_tensor=False)
        self.decoder = nn.Sequential(nn.Linear(c.emsize, c.nhid), nn.GELU(), nn.Linear(c.nhid, c.num_buckets))
        self.bar = BarDistribution(equal_probability_borders(c.num_buckets, c.bucket_std))

    def _check(self, x_train, y_train, x_query) -> None:
        d = self.config.x_dim
        for name, t in (("x_train", x_train), ("y_train", y_train), ("x_query", x_query)):
            if not torch.is_tensor(t) or not t.is_floating_point():
                raise TypeError(f"PFN expects floating-point {name}, got {getattr(t, 'dtype', type(t).__name__)}")
        expected = f"x_train (batch, n, {d}), y_train (batch, n), x_query (batch, m, {d})"
        if (x_train.dim() != 3 or x_query.dim() != 3 or y_train.dim() != 2 or x_train.shape[-1] != d
                or x_query.shape[-1] != d or y_train.shape != x_train.shape[:2] or x_query.shape[0] != x_train.shape[0]):
            raise ValueError(f"PFN expects {expected}; got x_train {tuple(x_train.shape)}, "
                             f"y_train {tuple(y_train.shape)}, x_query {tuple(x_query.shape)}")
        if x_train.shape[1] < 1:
            raise ValueError("PFN needs at least one training point (n >= 1)")

    def forward(self, x_train: torch.Tensor, y_train: torch.Tensor, x_query: torch.Tensor) -> torch.Tensor:
        self._check(x_train, y_train, x_query)
        n = x_train.shape[1]
        tokens = torch.cat([self.x_encoder(x_train) + self.y_encoder(y_train.unsqueeze(-1)),
                            self.x_encoder(x_query)], dim=1)
        length = tokens.shape[1]
        # True = may not attend: nobody attends to query positions
        blocked = torch.zeros(length, length, dtype=torch.bool, device=tokens.device)
        blocked[:, n:] = True
        # is_causal=False: the mask is not causal, and saying so spares a value test that tracing cannot do
        hidden = self.transformer(tokens, mask=blocked, is_causal=False)
        return self.decoder(hidden[:, n:])

    def query_nll(self, x: torch.Tensor, y: torch.Tensor, n_train: int) -> torch.Tensor:
        """-log q(y_query | x_query, first n_train points), (B, N - n_train)."""
        logits = self(x[:, :n_train], y[:, :n_train], x[:, n_train:])
        return -self.bar.log_prob(logits, y[:, n_train:])

    @torch.no_grad()
    def predict(self, x_train, y_train, x_query) -> dict[str, torch.Tensor]:
        """Posterior-predictive mean and variance at the queries, (B, M) each."""
        logits = self(x_train, y_train, x_query)
        return {"mean": self.bar.mean(logits), "variance": self.bar.variance(logits), "logits": logits}

    def training_step(self, batch, step) -> dict[str, float]:
        """One batch of prior datasets: a random split into training and query points, prior-data NLL."""
        x, y = batch[0], batch[1]
        if x.dim() != 3 or x.shape[1] < 2:
            raise ValueError(f"PFN trains on prior draws x (batch, n >= 2, {self.config.x_dim}), y (batch, n); "
                             f"got x {tuple(x.shape)}")
        n_train = int(torch.randint(1, x.shape[1], ()))
        loss = self.query_nll(x, y, n_train).mean()
        step.backward(loss)
        step.step()
        return {"loss": float(loss.detach()), "n_train": n_train}

    @torch.no_grad()
    def evaluation_step(self, batch, task) -> torch.Tensor:
        """Mean NLL per dataset (B,) at its query points, with the task's number of training points."""
        n_train = task.info.extra["eval_train_points"]
        return self.query_nll(batch[0], batch[1], n_train).mean(-1)
