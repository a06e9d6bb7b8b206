"""Deep Interest Network (Zhou et al., 2018, arXiv:1706.06978): item embeddings (goods, shop, category),
the local activation unit that weighs each past behaviour by its relevance to the candidate ad (Eq. 3,
weights not softmax-normalised), Dice (Eq. 8), mini-batch aware regularisation (Sec. 5.1), and the
Embedding&MLP base model (sum pooling) as the same network with `pooling="sum"`."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import DINConfig

__all__ = ["Dice", "LocalActivationUnit", "DIN", "FIELDS"]

FIELDS = ("goods", "shop", "category")  # the id columns of every item, in this order


class Dice(nn.Module):
    """Dice (Eq. 8): f(s) = p(s) s + (1 - p(s)) alpha s, p(s) = sigmoid((s - E[s]) / sqrt(Var[s] + eps)).

    E[s] and Var[s] are the mini-batch's in training and moving averages at inference, i.e. a BatchNorm
    without scale and shift; alpha is learned per channel. Channels are the last axis; every other axis
    counts as the batch."""

    def __init__(self, channels: int, eps: float = 1e-8):
        super().__init__()
        self.norm = nn.BatchNorm1d(channels, eps=eps, affine=False)
        self.alpha = nn.Parameter(torch.zeros(channels))

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        p = torch.sigmoid(self.norm(s.reshape(-1, s.shape[-1])).reshape(s.shape))
        return p * s + (1.0 - p) * self.alpha * s


def _activation(kind: str, channels: int, eps: float) -> nn.Module:
    return Dice(channels, eps) if kind == "dice" else nn.PReLU(channels)


class LocalActivationUnit(nn.Module):
    """a(e_j, v_A) of Eq. 3: an MLP over [e_j, v_A, e_j - v_A, e_j * v_A] (the behaviour, the ad, and their
    interactions: the "out product" of Fig. 2, written element-wise as in the authors' code) -> hidden ->
    one weight per behaviour, not normalised by a softmax (Sec. 4.3: keeps the intensity of the interest)."""

    def __init__(self, dim: int, hidden: int, activation: str, eps: float):
        super().__init__()
        self.hidden = nn.Linear(4 * dim, hidden)
        self.act = _activation(activation, hidden, eps)
        self.out = nn.Linear(hidden, 1)

    def forward(self, behaviours: torch.Tensor, ad: torch.Tensor) -> torch.Tensor:
        ad = ad.unsqueeze(1).expand_as(behaviours)
        features = torch.cat([behaviours, ad, behaviours - ad, behaviours * ad], dim=-1)
        hidden = self.hidden(features)
        # channels last, every behaviour of every user one row (PReLU reads channels on axis 1)
        hidden = self.act(hidden.reshape(-1, hidden.shape[-1])).reshape(hidden.shape)
        return self.out(hidden).squeeze(-1)


class DIN(nn.Module):
    """DIN for one candidate ad and one user's behaviour sequence.

    forward(history (batch, length, 3) int64, candidate (batch, 3) int64) -> logits (batch, 2). Each item is
    its (goods, shop, category) ids, 0 meaning padding; an item's embedding is the concatenation of its
    three fields' embeddings (Sec. 4.2). The user vector is Eq. 3's sum of a(e_j, v_A) e_j over the real
    behaviours (or their plain sum for the base model); [user vector, ad embedding] goes through the MLP
    200-80-2 (Fig. 2)."""

    def __init__(self, config: DINConfig):
        super().__init__()
        self.config = config
        d = config.embedding_dim
        sizes = (config.num_goods, config.num_shops, config.num_categories)
        self.embeddings = nn.ModuleList(nn.Embedding(n + 1, d, padding_idx=0) for n in sizes)
        self.item_dim = 3 * d
        self.attention = (LocalActivationUnit(self.item_dim, config.attention_hidden, config.activation, config.dice_eps)
                          if config.pooling == "attention" else None)
        layers, width = [], 2 * self.item_dim
        for hidden in config.mlp_hidden:
            layers += [nn.Linear(width, hidden), _activation(config.activation, hidden, config.dice_eps)]
            width = hidden
        self.mlp = nn.Sequential(*layers, nn.Linear(width, 2))
        # occurrences n_j of every id in the training data, for mini-batch aware regularisation (Sec. 5.1);
        # counted from the task at the first training step when still empty
        for field, n in zip(FIELDS, sizes):
            self.register_buffer(f"count_{field}", torch.zeros(n + 1))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Glorot-uniform weights and zero biases everywhere, embeddings included: TensorFlow's default, which
        the authors' code relies on (torch's N(0, 1) embeddings, summed over a history, make the paper's SGD
        learning rate of 1 diverge); the padding rows stay 0."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        for table in self.embeddings:
            nn.init.xavier_uniform_(table.weight)
            table.weight[0].zero_()

    def _check(self, history: torch.Tensor, candidate: torch.Tensor) -> None:
        for name, t, dims in (("history", history, 3), ("candidate", candidate, 2)):
            if not isinstance(t, torch.Tensor) or t.dtype not in (torch.int64, torch.int32):
                raise TypeError(f"{name} must be an integer tensor of item ids, got "
                                f"{getattr(t, 'dtype', type(t).__name__)}")
            if t.dim() != dims or t.shape[-1] != 3:
                shape = "(batch, length, 3)" if dims == 3 else "(batch, 3)"
                raise ValueError(f"{name} must have shape {shape} (goods, shop, category ids), got {tuple(t.shape)}")
        if history.shape[0] != candidate.shape[0]:
            raise ValueError(f"history has {history.shape[0]} rows and candidate {candidate.shape[0]}; expected the same")
        # value checks run in eager mode only: tracing (torch.export, ONNX) cannot branch on tensor values
        if torch.compiler.is_compiling():
            return
        limits = torch.tensor([self.config.num_goods, self.config.num_shops, self.config.num_categories],
                              device=history.device)
        if bool((history < 0).any() or (candidate < 0).any() or (history > limits).any() or (candidate > limits).any()):
            raise ValueError(f"ids out of range: expected 0 (padding) .. {limits.tolist()} for goods, shop, category")

    def embed(self, items: torch.Tensor) -> torch.Tensor:
        """(..., 3) ids -> (..., 3 * embedding_dim): the concatenated field embeddings."""
        return torch.cat([table(items[..., i]) for i, table in enumerate(self.embeddings)], dim=-1)

    def behaviour_weights(self, history: torch.Tensor, candidate: torch.Tensor) -> torch.Tensor:
        """a(e_j, v_A) for every behaviour: the activation unit's output, 0 at padding (1 at every real
        behaviour for the sum-pooling base model)."""
        mask = (history[..., 0] != 0).to(self.embeddings[0].weight.dtype)
        if self.attention is None:
            return mask
        return self.attention(self.embed(history), self.embed(candidate)) * mask

    def user_vector(self, history: torch.Tensor, candidate: torch.Tensor) -> torch.Tensor:
        """Eq. 3: v_U(A) = sum_j a(e_j, v_A) e_j (the base model: sum_j e_j)."""
        weights = self.behaviour_weights(history, candidate)
        return (weights.unsqueeze(-1) * self.embed(history)).sum(1)

    def forward(self, history: torch.Tensor, candidate: torch.Tensor) -> torch.Tensor:
        self._check(history, candidate)
        return self.mlp(torch.cat([self.user_vector(history, candidate), self.embed(candidate)], dim=-1))

    @torch.no_grad()
    def count_features(self, history: torch.Tensor, candidate: torch.Tensor) -> None:
        """Set n_j, the number of training samples in which id j of each field occurs (Sec. 5.1)."""
        for i, field in enumerate(FIELDS):
            counts = getattr(self, f"count_{field}")
            counts.zero_()
            for column in (history[..., i], candidate[:, i : i + 1]):
                present = torch.zeros(column.shape[0], counts.numel(), dtype=torch.bool)
                present.scatter_(1, column.long(), True)
                counts += present.sum(0).to(counts.dtype)
            counts[0] = 0.0

    def mba_penalty(self, history: torch.Tensor, candidate: torch.Tensor) -> torch.Tensor:
        """Mini-batch aware L2 (Sec. 5.1, Eq. 6): sum over the ids j that occur in this mini-batch of
        ||w_j||^2 / n_j, so only the embedding rows the batch uses are regularised, and frequent ids less."""
        total = self.embeddings[0].weight.new_zeros(())
        for i, (field, table) in enumerate(zip(FIELDS, self.embeddings)):
            ids = torch.unique(torch.cat([history[..., i].reshape(-1), candidate[:, i]]))
            ids = ids[ids != 0]
            counts = getattr(self, f"count_{field}")[ids].clamp_min(1.0)
            total = total + (table.weight[ids].pow(2).sum(-1) / counts).sum()
        return total

    def training_step(self, batch, step) -> dict[str, float]:
        """Cross entropy (Eq. 1) plus, with mba_lambda > 0, the mini-batch aware regulariser."""
        history, candidate, label = batch[0], batch[1], batch[2]
        loss = F.cross_entropy(self(history, candidate), label)
        logs = {"loss": float(loss.detach())}
        if self.config.mba_lambda > 0:
            if float(self.count_goods.sum()) == 0.0:
                train = step.task.splits()["train"]
                self.count_features(train[:][0], train[:][1])
            penalty = self.mba_penalty(history, candidate)
            loss = loss + self.config.mba_lambda * penalty
            logs["mba_penalty"] = float(penalty.detach())
        step.zero_grad()
        step.backward(loss)
        step.step()
        return logs
