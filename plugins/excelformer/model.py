"""ExcelFormer (Chen et al., ExcelFormer: Can a DNN be a Sure Bet for Tabular Prediction?,
2023): a transformer over the features of a table whose attention lets each feature
see only the features more informative than itself, trained with tabular mixup.

Pieces, in the order of the forward pass (Sec. 3-4 of the paper):
- Feature ranking: the features are sorted by their mutual information with the target on the
  training data (sklearn's mutual_info_classif / _regression), most informative first. The order
  and the normalised scores are buffers, fitted by `fit_feature_importance` or, when not fitted yet,
  on the first `training_step` from the task's training split.
- Embedding (GLU-style): feature i (a number x_i) becomes the d-vector
      E_i(x_i) = tanh(x_i w1_i + b1_i) * (x_i w2_i + b2_i).
- L layers of z <- z + SPA(LN(z)); z <- z + AiFFN(LN(z)).
  * Semi-permeable attention (SPA): multi-head attention with the mask M_ij = 1 if feature j is at
    least as informative as feature i, else -inf; after the sort this is j <= i, so information
    flows from more to less informative features only, and a noisy feature cannot leak into the
    representation of a useful one (it breaks the rotational invariance of plain attention).
  * Attentive intra-feature update (AiFFN), GLU-style per feature: tanh(z W1 + b1) * (z W2 + b2).
- Head: LN, a linear map d -> C and PReLU per feature, then a learned weighted sum over the
  features (plus bias) gives the C logits (classification) or targets (regression).
- Interaction-attenuated initialisation: the SPA's W_q, W_k, W_v and the AiFFN's W1, W2 start at
  gamma (1e-4) times a He-normal draw, so the untrained model is almost a sum of per-feature
  functions; interactions grow only as training finds them useful.
- Training augmentations (`training_step`, so zoo.train uses them), with lambda ~ Beta(a, a) and a
  partner batch (the batch shuffled):
  * Feat-Mix: each feature of a sample comes from the sample with probability lambda, else from its
    partner; the label is mixed by the share of mutual information carried by the kept features,
    Lambda_I = sum_{i kept} MI_i / sum_i MI_i.
  * Hidden-Mix: after the embedding, each embedding dimension (the same for all features of a
    sample) is kept with probability lambda, else taken from the partner; the label is mixed by the
    share of dimensions kept.
  The loss is the mixed cross entropy Lambda CE(y) + (1 - Lambda) CE(y_partner) (classification)
  or the MSE against Lambda y + (1 - Lambda) y_partner (regression).

Departures (simplest reading where the text leaves a detail open): the head's exact layout; W_o of
the attention is initialised normally (only W_q, W_k, W_v and the AiFFN are attenuated); mixing
masks are drawn per sample.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import ExcelFormerConfig

__all__ = ["ExcelFormer", "GLUEmbedding", "SemiPermeableAttention", "AiFFN", "mutual_information",
           "feat_mix", "hidden_mix", "mixed_loss"]


def mutual_information(x: np.ndarray, y: np.ndarray, kind: str, seed: int = 0) -> np.ndarray:
    """Mutual information of each feature with the target (sklearn's k-NN estimators), shape (d,)."""
    from sklearn.feature_selection import mutual_info_classif, mutual_info_regression

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y)
    if kind == "classification":
        return mutual_info_classif(x, y.reshape(-1), random_state=seed)
    if kind == "regression":
        return mutual_info_regression(x, y.reshape(len(y), -1)[:, 0], random_state=seed)
    raise ValueError(f"mutual information needs a classification or regression target, got kind {kind!r}")


def feat_mix(x: torch.Tensor, importance: torch.Tensor, lam: float, perm: torch.Tensor):
    """Feat-Mix: features kept with probability lam, else the partner's; label weights by kept importance.
    x: (b, f) in importance order; importance: (f,) summing to 1. Returns (mixed x, Lambda_I (b,))."""
    keep = torch.rand(x.shape, device=x.device) < lam
    return torch.where(keep, x, x[perm]), (keep.to(importance.dtype) * importance).sum(-1)


def hidden_mix(z: torch.Tensor, lam: float, perm: torch.Tensor):
    """Hidden-Mix: embedding dimensions kept with probability lam (one mask per sample, shared by its
    features), else the partner's. z: (b, f, d). Returns (mixed z, share of dimensions kept (b,))."""
    keep = torch.rand(z.shape[0], 1, z.shape[2], device=z.device) < lam
    return torch.where(keep, z, z[perm]), keep.to(z.dtype).mean((1, 2))


def mixed_loss(output: torch.Tensor, target: torch.Tensor, partner: torch.Tensor, weight: torch.Tensor,
               kind: str) -> torch.Tensor:
    """weight * loss(y) + (1 - weight) * loss(y_partner) (classification) or MSE to the mixed target."""
    if kind == "classification":
        own = F.cross_entropy(output, target, reduction="none")
        other = F.cross_entropy(output, partner, reduction="none")
        return (weight * own + (1 - weight) * other).mean()
    weight = weight.reshape(-1, *([1] * (target.dim() - 1)))
    return F.mse_loss(output, weight * target + (1 - weight) * partner)


def _attenuated_he_(weight: torch.Tensor, gamma: float) -> None:
    nn.init.kaiming_normal_(weight)
    with torch.no_grad():
        weight.mul_(gamma)


class GLUEmbedding(nn.Module):
    """(b, f) numbers -> (b, f, d): tanh(x_i w1_i + b1_i) * (x_i w2_i + b2_i), per feature i."""

    def __init__(self, n_features: int, d: int):
        super().__init__()
        self.w1, self.b1, self.w2, self.b2 = (nn.Parameter(torch.empty(n_features, d)) for _ in range(4))
        bound = 1 / math.sqrt(d)
        for p in (self.w1, self.b1, self.w2, self.b2):
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[..., None]
        return torch.tanh(x * self.w1 + self.b1) * (x * self.w2 + self.b2)


class SemiPermeableAttention(nn.Module):
    """Multi-head attention where token i (importance rank i) attends to tokens j <= i only."""

    def __init__(self, d: int, heads: int, dropout: float, gamma: float, semi_permeable: bool = True):
        super().__init__()
        if d % heads:
            raise ValueError(f"d_token ({d}) must be divisible by n_heads ({heads})")
        self.heads, self.dropout, self.semi_permeable = heads, dropout, semi_permeable
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        for layer in (self.q, self.k, self.v):
            _attenuated_he_(layer.weight, gamma)
            nn.init.zeros_(layer.bias)

    def mask(self, f: int, device) -> torch.Tensor | None:
        """(f, f) boolean, True where token i may attend to token j: j <= i (j at least as informative)."""
        return torch.ones(f, f, dtype=torch.bool, device=device).tril() if self.semi_permeable else None

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        b, f, d = z.shape
        split = lambda t: t.reshape(b, f, self.heads, d // self.heads).transpose(1, 2)  # noqa: E731
        out = F.scaled_dot_product_attention(split(self.q(z)), split(self.k(z)), split(self.v(z)),
                                             attn_mask=self.mask(f, z.device),
                                             dropout_p=self.dropout if self.training else 0.0)
        return self.o(out.transpose(1, 2).reshape(b, f, d))


class AiFFN(nn.Module):
    """Attentive intra-feature update: tanh(z W1 + b1) * (z W2 + b2), per feature token."""

    def __init__(self, d: int, dropout: float, gamma: float):
        super().__init__()
        self.w1, self.w2 = nn.Linear(d, d), nn.Linear(d, d)
        for layer in (self.w1, self.w2):
            _attenuated_he_(layer.weight, gamma)
            nn.init.zeros_(layer.bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.dropout(torch.tanh(self.w1(z)) * self.w2(z))


class Layer(nn.Module):
    def __init__(self, config: ExcelFormerConfig):
        super().__init__()
        d, gamma = config.d_token, config.init_attenuation
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attention = SemiPermeableAttention(d, config.n_heads, config.attention_dropout, gamma,
                                                config.semi_permeable)
        self.ffn = AiFFN(d, config.ffn_dropout, gamma)
        self.drop = nn.Dropout(config.residual_dropout)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = z + self.drop(self.attention(self.norm1(z)))
        return z + self.drop(self.ffn(self.norm2(z)))


class ExcelFormer(nn.Module):
    """(batch, d_in) features -> (batch, d_out) logits or predictions."""

    def __init__(self, config: ExcelFormerConfig | None = None):
        super().__init__()
        self.config = config = config or ExcelFormerConfig()
        if config.d_token % config.n_heads:
            raise ValueError(f"d_token ({config.d_token}) must be divisible by n_heads ({config.n_heads})")
        f, d = config.d_in, config.d_token
        self.embedding = GLUEmbedding(f, d)
        self.layers = nn.ModuleList(Layer(config) for _ in range(config.n_layers))
        self.head_norm = nn.LayerNorm(d)
        self.head_out = nn.Linear(d, config.d_out)
        self.head_act = nn.PReLU()
        self.head_features = nn.Linear(f, 1)
        # the feature ranking: order[r] is the feature of rank r; importance is per rank, sums to 1
        self.register_buffer("order", torch.arange(f))
        self.register_buffer("importance", torch.full((f,), 1.0 / f))
        self.register_buffer("importance_fitted", torch.zeros((), dtype=torch.bool))

    # --- the feature ranking -------------------------------------------------------------------------
    def fit_feature_importance(self, x, y, kind: str, seed: int = 0) -> np.ndarray:
        """Rank the features by mutual information with y on (training) data; returns the scores."""
        x = x.detach().cpu().numpy() if torch.is_tensor(x) else np.asarray(x)
        y = y.detach().cpu().numpy() if torch.is_tensor(y) else np.asarray(y)
        if x.ndim != 2 or x.shape[1] != self.config.d_in:
            raise ValueError(f"fit_feature_importance expects features of shape (n, {self.config.d_in}), "
                             f"got {x.shape}")
        scores = mutual_information(x, y, kind, seed)
        order = np.argsort(-scores, kind="stable")
        ranked = np.clip(scores[order], 0.0, None)
        ranked = ranked / ranked.sum() if ranked.sum() > 0 else np.full(len(ranked), 1.0 / len(ranked))
        with torch.no_grad():
            self.order.copy_(torch.as_tensor(order.copy()))
            self.importance.copy_(torch.as_tensor(ranked, dtype=self.importance.dtype))
            self.importance_fitted.fill_(True)
        return scores

    # --- the forward pass, in the pieces Hidden-Mix needs --------------------------------------------
    def check_input(self, x: torch.Tensor) -> None:
        d = self.config.d_in
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise TypeError(f"excelformer expects floating-point features of shape (batch, {d}), "
                            f"got {getattr(x, 'dtype', type(x).__name__)}")
        if x.dim() != 2 or x.shape[-1] != d:
            raise ValueError(f"excelformer expects features of shape (batch, {d}), got {tuple(x.shape)}")

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(b, d_in) features -> (b, d_in, d_token) embeddings, most informative feature first."""
        self.check_input(x)
        return self.embedding(x[:, self.order])

    def encode_and_predict(self, z: torch.Tensor) -> torch.Tensor:
        """(b, f, d) embeddings -> the L layers -> the head -> (b, d_out)."""
        for layer in self.layers:
            z = layer(z)
        per_feature = self.head_act(self.head_out(self.head_norm(z)))  # (b, f, C)
        return self.head_features(per_feature.transpose(1, 2))[..., 0]  # weighted sum over features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode_and_predict(self.embed(x))

    # --- training with Feat-Mix / Hidden-Mix ---------------------------------------------------------
    def training_step(self, batch, step) -> dict:
        """One update on the batch, mixed by Feat-Mix or Hidden-Mix (the paper's training)."""
        config = self.config
        kind = step.task.kind
        if not bool(self.importance_fitted):
            x_train, y_train = step.task.splits()["train"].tensors[:2]
            self.fit_feature_importance(x_train, y_train, kind)
        x, y = batch[0], batch[1]
        mixing = config.mix_type != "none" and kind in ("classification", "regression") and (
            config.mixed_share >= 1.0 or torch.rand(()).item() < config.mixed_share)
        if not mixing:
            loss = step.loss(self(x), batch)
        else:
            lam = float(torch.distributions.Beta(config.mix_alpha, config.mix_alpha).sample())
            perm = torch.randperm(len(x), device=x.device)
            if config.mix_type == "feat":
                self.check_input(x)
                mixed, weight = feat_mix(x[:, self.order], self.importance, lam, perm)
                output = self.encode_and_predict(self.embedding(mixed))
            else:
                mixed, weight = hidden_mix(self.embed(x), lam, perm)
                output = self.encode_and_predict(mixed)
            target = y if kind == "classification" else y.to(output.dtype)
            loss = mixed_loss(output, target, target[perm], weight, kind)
        step.backward(loss)
        step.step()
        return {"loss": loss.detach()}
