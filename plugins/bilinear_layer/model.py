"""Bilinear layers (Sharkey, 2023, arXiv:2305.03452, "A technical note on bilinear layers for
interpretability").

The bilinear layer (Sec. 2; Shazeer's GLU variant with the nonlinearity removed) is

    MLP_bilinear(x) = W_out ((W1 x) * (W2 x)),

with * the elementwise product. Writing it out per output,

    out_k = sum_h Wout_kh (sum_i W1_hi x_i) (sum_j W2_hj x_j) = sum_ij B_kij x_i x_j,
    B_kij = sum_h Wout_kh W1_hi W2_hj,

so the layer IS a third-order tensor acting on x twice (Sec. 3): its input-input interactions can
be read from weights alone, which an elementwise nonlinearity prevents. Only the part of B that is
symmetric in (i, j) affects the output. A bias is handled by appending a constant 1 to x: the
tensor then has size d + 1 in i and j, and its last row/column holds the linear and constant terms.

`BilinearMLP` puts the layer in a one-hidden-layer MLP (input -> layer -> output) or a residual MLP
(embedding, blocks x + layer(x), linear read-out), and with `activation="relu"/"gelu"` builds the
standard MLP with act(W1 x) in place of the product: the baselines of the note's claim.

Departures: the note studies the layer inside transformers; here it is used in small MLPs, without
layer normalisation (which would make the whole block non-polynomial), on small tasks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import BilinearConfig

__all__ = ["BilinearLayer", "MLPLayer", "BilinearMLP"]


class BilinearLayer(nn.Module):
    """W_out ((W1 x + b1) * (W2 x + b2)) (+ b_out): d_in -> hidden -> d_out."""

    def __init__(self, d_in: int, hidden: int, d_out: int, bias: bool = False):
        super().__init__()
        self.w1 = nn.Linear(d_in, hidden, bias=bias)
        self.w2 = nn.Linear(d_in, hidden, bias=bias)
        self.out = nn.Linear(hidden, d_out, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.w1(x) * self.w2(x))

    def interaction_tensor(self) -> torch.Tensor:
        """B of shape (d_out, d, d) with out_k = sum_ij B_kij x_i x_j (Sec. 3); with biases d = d_in + 1
        and x is taken with a constant 1 appended, and the output bias sits in B_k,d,d."""
        w1, w2 = self.w1.weight, self.w2.weight
        if self.w1.bias is not None:  # [W | b] acting on [x, 1]
            w1 = torch.cat([w1, self.w1.bias[:, None]], dim=1)
            w2 = torch.cat([w2, self.w2.bias[:, None]], dim=1)
        tensor = torch.einsum("kh,hi,hj->kij", self.out.weight, w1, w2)
        if self.out.bias is not None:
            tensor = tensor.clone()
            tensor[:, -1, -1] += self.out.bias
        return tensor

    def symmetric_tensor(self) -> torch.Tensor:
        """(B + B^T) / 2 over (i, j): the only part of B the output depends on."""
        tensor = self.interaction_tensor()
        return (tensor + tensor.transpose(1, 2)) / 2


class MLPLayer(nn.Module):
    """W_out act(W1 x + b1) (+ b_out): the standard MLP layer the bilinear layer replaces."""

    def __init__(self, d_in: int, hidden: int, d_out: int, activation: str, bias: bool = True):
        super().__init__()
        self.w1 = nn.Linear(d_in, hidden, bias=bias)
        self.out = nn.Linear(hidden, d_out, bias=bias)
        self.act = {"relu": F.relu, "gelu": F.gelu}[activation]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.act(self.w1(x)))


class BilinearMLP(nn.Module):
    """A one-hidden-layer or residual MLP of bilinear (or ReLU / GELU) layers over flattened inputs."""

    def __init__(self, config: BilinearConfig | None = None):
        super().__init__()
        self.config = c = config or BilinearConfig()

        def layer(d_in: int, d_out: int) -> nn.Module:
            if c.activation == "bilinear":
                return BilinearLayer(d_in, c.hidden_dim, d_out, c.bias)
            return MLPLayer(d_in, c.hidden_dim, d_out, c.activation, c.bias)

        if c.residual_blocks == 0:
            self.embed, self.head = None, None
            self.layers = nn.ModuleList([layer(c.input_dim, c.output_dim)])
        else:
            self.embed = nn.Linear(c.input_dim, c.model_dim)
            self.layers = nn.ModuleList(layer(c.model_dim, c.model_dim) for _ in range(c.residual_blocks))
            self.head = nn.Linear(c.model_dim, c.output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, ...) inputs with input_dim features in all -> (batch, output_dim)."""
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise TypeError(f"bilinear-layer expects a floating-point tensor, got {getattr(x, 'dtype', type(x).__name__)}")
        x = x.reshape(len(x), -1) if x.dim() > 1 else x
        if x.dim() != 2 or x.shape[1] != self.config.input_dim:
            raise ValueError(f"bilinear-layer expects inputs of shape (batch, {self.config.input_dim}) (or any shape "
                             f"with {self.config.input_dim} features per sample), got {tuple(x.shape)}")
        if self.embed is None:
            return self.layers[0](x)
        h = self.embed(x)
        for block in self.layers:
            h = h + block(h)
        return self.head(h)

    def interaction_tensors(self) -> list[torch.Tensor]:
        """Each bilinear layer's third-order tensor B (see BilinearLayer.interaction_tensor)."""
        if self.config.activation != "bilinear":
            raise ValueError(f"interaction tensors exist only for activation='bilinear', this model uses "
                             f"{self.config.activation!r}")
        return [layer.interaction_tensor() for layer in self.layers]
