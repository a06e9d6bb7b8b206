"""TabPFN (Hollmann, Müller, Eggensperger & Hutter, 2022, arXiv:2207.01848): a Prior-Data Fitted
Network for small tabular classification.

TabPFN is the PFN of Müller et al. (2022; the zoo's `pfn`) trained once, offline, on datasets drawn
from a prior over tabular classification problems built from structural causal models (Sec. 4;
`prior.py`). Given a new dataset's training rows and labels, one forward pass gives the posterior
predictive class probabilities of its test rows: no training and no hyperparameter search at use.

The network is the PFN transformer, imported from the `pfn` plugin (`zoo_plugins.pfn.model.PFN`):
no positional encoding; a training row enters as the sum of a linear embedding of its features and
one of its label (the class id as a number, as in the authors' code); a test row as the embedding
of its features alone; training rows attend to each other and test rows attend only to the
training rows (Fig. 1), so the prediction is invariant to the order of the training set and test
rows do not influence each other. A two-layer head maps each test row to `max_classes` logits.

Input handling (Sec. 4.4 and the authors' code): each feature is standardised with the mean and
standard deviation of the training rows; a dataset with F < max_features features is zero-padded
to max_features, and its features are multiplied by max_features / F so that the input's overall
scale does not depend on how many features are used. Classes are 0..C-1 with C <= max_classes;
training scores all max_classes logits (the paper's cross entropy over the 10 outputs), and
`predict_proba` keeps the first C.

Departures: the output head reuses the PFN's (Linear-GELU-Linear, the authors' decoder too); the
standardisation clips values to +-`CLIP` standard deviations where the authors remove outliers by
a two-pass rule. The size is the paper's by default; the reproduction trains a tiny one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zoo_plugins.pfn.config import PFNConfig
from zoo_plugins.pfn.model import PFN

from .config import TabPFNConfig

__all__ = ["TabPFN", "standardise_and_pad", "CLIP"]

CLIP = 10.0  # standardised values beyond this many training standard deviations are clipped


def standardise_and_pad(x_train: torch.Tensor, x_query: torch.Tensor, num_features: torch.Tensor,
                        max_features: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Standardise each feature by the training rows' mean and std, zero the unused columns
    (index >= num_features[b]), scale the used ones by max_features / num_features[b], and pad with
    zeros to max_features columns. x_* (B, rows, F <= max_features), num_features (B,)."""
    width = x_train.shape[-1]
    used = (torch.arange(width, device=x_train.device) < num_features[:, None]).unsqueeze(1)  # (B, 1, F)
    mean = x_train.mean(1, keepdim=True)
    std = x_train.std(1, keepdim=True, unbiased=False) if x_train.shape[1] > 1 else torch.ones_like(mean)
    std = torch.where(std > 1e-8, std, torch.ones_like(std))  # a constant feature stays 0 rather than blowing up
    scale = (max_features / num_features.clamp_min(1).to(x_train.dtype)).reshape(-1, 1, 1)

    def transform(x):
        z = ((x - mean) / std).clamp(-CLIP, CLIP)
        z = torch.where(used, z, torch.zeros_like(z)) * scale
        return F.pad(z, (0, max_features - width))

    return transform(x_train), transform(x_query)


class TabPFN(nn.Module):
    """forward(x_train (B, n, F), y_train (B, n) class ids, x_query (B, m, F), num_features (B,) or
    None) -> logits (B, m, max_classes). F <= max_features; num_features[b] says how many of the F
    columns dataset b uses (the rest are padding); None: all F."""

    def __init__(self, config: TabPFNConfig | None = None):
        super().__init__()
        self.config = c = config or TabPFNConfig()
        self.backbone = PFN(PFNConfig(x_dim=c.max_features, emsize=c.emsize, nhead=c.nhead, nhid=c.nhid,
                                      nlayers=c.nlayers, dropout=c.dropout, num_buckets=c.max_classes))
        # classification: the head's outputs are class logits, so the PFN's Riemann-distribution borders go
        del self.backbone.bar

    def _check(self, x_train, y_train, x_query, num_features) -> torch.Tensor:
        c = self.config
        for name, t in (("x_train", x_train), ("x_query", x_query)):
            if not torch.is_tensor(t) or not t.is_floating_point():
                raise TypeError(f"TabPFN expects floating-point {name}, got {getattr(t, 'dtype', type(t).__name__)}")
        if not torch.is_tensor(y_train) or y_train.is_floating_point() or y_train.dtype == torch.bool:
            raise TypeError(f"TabPFN expects integer class ids y_train, got {getattr(y_train, 'dtype', type(y_train))}")
        if (x_train.dim() != 3 or x_query.dim() != 3 or y_train.shape != x_train.shape[:2]
                or x_query.shape[0] != x_train.shape[0] or x_query.shape[-1] != x_train.shape[-1]):
            raise ValueError(f"TabPFN expects x_train (batch, n, F), y_train (batch, n), x_query (batch, m, F); got "
                             f"{tuple(x_train.shape)}, {tuple(y_train.shape)}, {tuple(x_query.shape)}")
        if x_train.shape[-1] > c.max_features:
            raise ValueError(f"TabPFN reads at most max_features={c.max_features} features, got {x_train.shape[-1]}")
        if x_train.shape[1] < 1:
            raise ValueError("TabPFN needs at least one training row (n >= 1)")
        checkable = not torch.compiler.is_compiling() and not y_train.is_meta  # an export cannot read values
        if checkable and y_train.numel() and (int(y_train.min()) < 0 or int(y_train.max()) >= c.max_classes):
            raise ValueError(f"class ids must lie in [0, max_classes={c.max_classes}), got "
                             f"[{int(y_train.min())}, {int(y_train.max())}]")
        width = x_train.shape[-1]
        if num_features is None:
            return torch.full((x_train.shape[0],), width, dtype=torch.long, device=x_train.device)
        if num_features.shape != (x_train.shape[0],):
            raise ValueError(f"num_features must have shape (batch,) = ({x_train.shape[0]},), got "
                             f"{tuple(num_features.shape)}")
        if not num_features.is_meta and (int(num_features.min()) < 1 or int(num_features.max()) > width):
            raise ValueError(f"num_features must lie in [1, {width}] (the columns given), got "
                             f"[{int(num_features.min())}, {int(num_features.max())}]")
        return num_features

    def forward(self, x_train: torch.Tensor, y_train: torch.Tensor, x_query: torch.Tensor,
                num_features: torch.Tensor | None = None) -> torch.Tensor:
        num_features = self._check(x_train, y_train, x_query, num_features)
        x_train, x_query = standardise_and_pad(x_train, x_query, num_features, self.config.max_features)
        return self.backbone(x_train, y_train.to(x_train.dtype), x_query)

    def query_loss(self, batch, n_train: int) -> torch.Tensor:
        """Cross entropy of the rows after the first n_train given those, per dataset (B,)."""
        x, y, num_features = batch[0], batch[1], batch[2]
        logits = self(x[:, :n_train], y[:, :n_train], x[:, n_train:], num_features)
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y[:, n_train:].reshape(-1), reduction="none")
        return ce.reshape(y.shape[0], -1).mean(-1)

    def training_step(self, batch, step) -> dict[str, float]:
        """One batch of prior datasets (x (B, N, F), y (B, N), num_features (B,)): the prior-data loss
        at a split position drawn uniformly per batch (as the authors' single_eval_pos)."""
        x = batch[0]
        if x.dim() != 3 or x.shape[1] < 2:
            raise ValueError(f"TabPFN trains on prior datasets x (batch, N >= 2, F); got x {tuple(x.shape)}")
        rows = x.shape[1]
        n_train = int(torch.randint(max(1, rows // 10), rows - max(1, rows // 10) + 1, ()))
        loss = self.query_loss(batch, n_train).mean()
        step.backward(loss)
        step.step()
        return {"loss": float(loss.detach()), "n_train": n_train}

    @torch.no_grad()
    def predict_proba(self, x_train: torch.Tensor, y_train: torch.Tensor, x_query: torch.Tensor,
                      num_classes: int | None = None) -> torch.Tensor:
        """Class probabilities (B, m, C) of the query rows, over the C = num_classes (default: the
        largest id in y_train + 1) classes of the dataset."""
        logits = self(x_train, y_train, x_query)
        classes = int(y_train.max()) + 1 if num_classes is None else num_classes
        if not 1 <= classes <= self.config.max_classes:
            raise ValueError(f"num_classes must lie in [1, {self.config.max_classes}], got {classes}")
        return logits[..., :classes].softmax(-1)
