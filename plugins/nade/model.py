"""Neural Autoregressive Distribution Estimation (Uria, Cote, Gregor, Murray & Larochelle, 2016,
arXiv:1605.02226).

NADE factorises p(x) = prod_d p(x_{o_d} | x_{o_<d}) over binary dimensions and models every
conditional with one hidden layer whose weights are shared across conditionals (Eqs. 6-7):

    h_d = sigm(c + W[:, o_<d] x_{o_<d}),    p(x_{o_d} = 1 | x_{o_<d}) = sigm(b_{o_d} + V[o_d] . h_d).

Because h_{d+1}'s pre-activation is h_d's plus one column of W times x_{o_d}, all D conditionals
of an example cost O(DH) (Algorithm 1): here a cumulative sum over blocks of dimensions. log p(x)
is exact.

DeepNADE (Sec. 5, "Orderless and deep NADE"): a deep feed-forward network reads the observed
values x_{o_<d} (zeros elsewhere) together with the mask m_{o_<d} that says which dimensions are
observed, and outputs the conditionals of all unobserved dimensions at once. Trained on random
orderings and random d, the loss of Eq. 29,

    J = D / (D - d + 1) * sum_{j unobserved} -log p(x_j | x_{o_<d}),

is an unbiased estimate of the NLL averaged over all orderings, so one network serves every
ordering. Its exact log-likelihood under an ordering takes D network passes (batched here); an
ensemble over orderings averages their likelihoods (log-mean-exp, Sec. 5.1).

Departures from the paper: none in the maths. The fixed ordering of NADE is the natural one
(dimension index order), as in the paper's MNIST experiments. Orderings used by evaluation are
drawn from a generator seeded by the caller, so evaluation is repeatable.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import NADEConfig

__all__ = ["NADE", "random_orderings"]

_CHUNK = 16  # dimensions per cumulative-sum block in NADE's forward pass


def random_orderings(count: int, dim: int, seed: int = 0) -> torch.Tensor:
    """`count` random permutations of range(dim), shape (count, dim), from a seeded generator."""
    gen = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randperm(dim, generator=gen) for _ in range(count)])


class NADE(nn.Module):
    """NADE (weight-shared, fixed ordering) or DeepNADE (order-agnostic, masked inputs).

    `forward(x)` returns the exact log-likelihood log p(x) of binary x (batch, D) in nats, under the
    natural ordering.
    """

    def __init__(self, config: NADEConfig | None = None):
        super().__init__()
        self.config = config = config or NADEConfig()
        d = config.input_dim
        self.activation = torch.sigmoid if config.activation == "sigmoid" else F.relu
        if config.order_agnostic:
            layers: list[nn.Module] = []
            width = 2 * d  # observed values and the mask
            for h in config.hidden_sizes:
                layers += [nn.Linear(width, h), nn.Sigmoid() if config.activation == "sigmoid" else nn.ReLU()]
                width = h
            layers.append(nn.Linear(width, d))
            self.network = nn.Sequential(*layers)
        else:
            h = config.hidden_sizes[0]
            # names of the paper's Eq. 6-7: W (H x D) and c feed the hidden layer, V (D x H) and b the outputs
            self.W = nn.Parameter(torch.empty(h, d).uniform_(-1 / math.sqrt(d), 1 / math.sqrt(d)))
            self.c = nn.Parameter(torch.zeros(h))
            self.V = nn.Parameter(torch.empty(d, h).uniform_(-1 / math.sqrt(h), 1 / math.sqrt(h)))
            self.b = nn.Parameter(torch.zeros(d))

    def _check(self, x) -> torch.Tensor:
        d = self.config.input_dim
        if not torch.is_tensor(x) or not (x.is_floating_point() or x.dtype == torch.bool):
            raise TypeError(f"NADE expects binary float data of shape (batch, {d}), "
                            f"got {getattr(x, 'dtype', type(x).__name__)}")
        if x.dim() < 2 or math.prod(x.shape[1:]) != d:
            raise ValueError(f"NADE expects binary data of shape (batch, {d}), got {tuple(x.shape)}")
        return x.reshape(x.shape[0], d).float()

    # --- NADE ---------------------------------------------------------------------------------

    def nade_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of p(x_d = 1 | x_<d) for every d, (batch, D), in O(DH): Algorithm 1's running
        pre-activation, advanced `_CHUNK` dimensions at a time by a cumulative sum (a full-width
        cumsum would materialise (batch, D, H) at once and is memory-bound)."""
        running = self.c.expand(x.shape[0], -1)  # c + sum_{k < start} W[:, k] x_k
        logits = []
        for start in range(0, x.shape[1], _CHUNK):
            block = slice(start, start + _CHUNK)
            contributions = x[:, block].unsqueeze(-1) * self.W.T[block]  # (batch, chunk, H): W[:, d] x_d
            before = running.unsqueeze(1) + torch.cumsum(contributions, dim=1) - contributions
            logits.append(self.b[block] + (self.activation(before) * self.V[block]).sum(-1))
            running = before[:, -1] + contributions[:, -1]
        return torch.cat(logits, dim=1)

    # --- DeepNADE -----------------------------------------------------------------------------

    def masked_logits(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """DeepNADE: logits of p(x_j = 1 | observed) for every j, given the observed mask (batch, D)."""
        return self.network(torch.cat([x * mask, mask], dim=-1))

    def _ordering_masks(self, ordering: torch.Tensor) -> torch.Tensor:
        """(D, D) masks: row d marks o_<d observed."""
        d = self.config.input_dim
        rank = torch.empty_like(ordering)
        rank[ordering] = torch.arange(d, device=ordering.device)
        return (rank.unsqueeze(0) < torch.arange(d, device=ordering.device).unsqueeze(1)).float()

    def deep_log_prob(self, x: torch.Tensor, ordering: torch.Tensor) -> torch.Tensor:
        """Exact log p(x) under one ordering: D masked passes, batched; (batch,)."""
        d = self.config.input_dim
        masks = self._ordering_masks(ordering.to(x.device))  # (D, D)
        logits = self.masked_logits(x.unsqueeze(0).expand(d, -1, -1), masks.unsqueeze(1).expand(-1, x.shape[0], -1))
        # conditional d predicts dimension o_d
        picked = logits[torch.arange(d, device=x.device), :, ordering.to(x.device)]  # (D, batch)
        return -F.binary_cross_entropy_with_logits(picked, x.T[ordering.to(x.device)], reduction="none").sum(0)

    # --- shared -------------------------------------------------------------------------------

    def log_prob(self, x: torch.Tensor, ordering: torch.Tensor | None = None) -> torch.Tensor:
        """Exact log p(x) in nats, (batch,). `ordering` (a permutation of range(D)) is for DeepNADE;
        NADE has one fixed ordering."""
        x = self._check(x)
        if not self.config.order_agnostic:
            if ordering is not None:
                raise ValueError("a fixed-ordering NADE cannot evaluate other orderings; use order_agnostic=True")
            return -F.binary_cross_entropy_with_logits(self.nade_logits(x), x, reduction="none").sum(-1)
        if ordering is None:
            ordering = torch.arange(self.config.input_dim)
        if sorted(ordering.tolist()) != list(range(self.config.input_dim)):
            raise ValueError(f"ordering must be a permutation of range({self.config.input_dim})")
        return self.deep_log_prob(x, ordering)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.log_prob(x)

    def ensemble_log_prob(self, x: torch.Tensor, orderings: torch.Tensor) -> torch.Tensor:
        """log of the likelihood averaged over orderings (rows of `orderings`), (batch,)."""
        per = torch.stack([self.log_prob(x, o) for o in orderings])
        return torch.logsumexp(per, 0) - math.log(len(orderings))

    def orderless_loss(self, x: torch.Tensor) -> torch.Tensor:
        """Eq. 29 averaged over the batch: a random ordering and d per example."""
        n, d = x.shape
        observed = torch.randint(0, d, (n, 1), device=x.device)  # d - 1 in the paper's notation
        rank = torch.rand(n, d, device=x.device).argsort(-1).argsort(-1)  # a random ordering per example
        mask = (rank < observed).float()
        nll = F.binary_cross_entropy_with_logits(self.masked_logits(x, mask), x, reduction="none")
        return (d / (d - observed.squeeze(1).float()) * (nll * (1 - mask)).sum(-1)).mean()

    def training_step(self, batch, step) -> dict[str, float]:
        """NADE: exact NLL. DeepNADE: the order-agnostic estimate of Eq. 29."""
        x = self._check(batch[0] if isinstance(batch, (list, tuple)) else batch)
        loss = self.orderless_loss(x) if self.config.order_agnostic else -self.log_prob(x).mean()
        step.backward(loss)
        step.step()
        return {"loss": float(loss.detach())}

    @torch.no_grad()
    def evaluation_step(self, batch, task) -> torch.Tensor:
        """Exact NLL per example (nats), (batch,); DeepNADE ensembles `eval_orderings` orderings
        (seed 0; the first is the natural ordering)."""
        x = self._check(batch[0] if isinstance(batch, (list, tuple)) else batch)
        if not self.config.order_agnostic:
            return -self.log_prob(x)
        orderings = random_orderings(self.config.eval_orderings, self.config.input_dim)
        orderings[0] = torch.arange(self.config.input_dim)
        return -self.ensemble_log_prob(x, orderings)

    @torch.no_grad()
    def sample(self, n: int, ordering: torch.Tensor | None = None) -> torch.Tensor:
        """Ancestral samples (n, D), one dimension at a time along the ordering."""
        d = self.config.input_dim
        if ordering is not None and not self.config.order_agnostic:
            raise ValueError("a fixed-ordering NADE samples in its own ordering; use order_agnostic=True")
        device = next(self.parameters()).device
        ordering = torch.arange(d) if ordering is None else ordering
        x = torch.zeros(n, d, device=device)
        mask = torch.zeros(n, d, device=device)
        for j in ordering.tolist():
            logits = self.masked_logits(x, mask) if self.config.order_agnostic else self.nade_logits(x)
            x[:, j] = torch.bernoulli(torch.sigmoid(logits[:, j]))
            mask[:, j] = 1
        return x
