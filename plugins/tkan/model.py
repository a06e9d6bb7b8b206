"""TKAN: Temporal Kolmogorov-Arnold Networks (Genet & Inzirillo, 2024, arXiv:2405.07344).

A TKAN layer is an LSTM-like cell whose output gate is computed from L Recurring KAN (RKAN)
sub-layers. Sub-layer l keeps its own state h~_l and, at step t (paper Sec. III):

    s~_{l,t} = W_{l,x~} x_t + W_{l,h~} h~_{l,t-1}              (RKAN input)
    o~_{l,t} = phi_l(s~_{l,t})                                   (a KAN layer)
    h~_{l,t} = W_{h~h} h~_{l,t-1} + W_{h~z} o~_{l,t}             (RKAN memory)

and the cell combines them with LSTM gating:

    f_t = sigma(W_f x_t + U_f h_{t-1} + b_f)     i_t = sigma(W_i x_t + U_i h_{t-1} + b_i)
    c~_t = sigma(W_c x_t + U_c h_{t-1} + b_c)    c_t = f_t * c_{t-1} + i_t * c~_t
    r_t = concat(o~_{1,t}, ..., o~_{L,t})        o_t = sigma(W_o r_t + b_o)
    h_t = o_t * tanh(c_t)

Layers stack (each feeds its hidden sequence to the next); a linear head maps the last layer's
final hidden state to the forecast horizon, as in the paper's experiments (TKAN, TKAN, Dense).

Each phi_l is the zoo's `KANLayer` (the KAN paper's B-spline + SiLU edge activations), with its
own spline order from `sub_kan_orders`.

Departures, and why:
- The paper leaves the sub-layer sizes open; defaults follow the authors' package `tkan`
  (Keras): five sub-layers with spline orders 0..4, sub-layer width = layer input width, grid 3,
  per-unit (diagonal) W_{h~h}, W_{h~z}, orthogonal recurrent and Glorot input initialisation,
  forget-gate bias 1.
- The package's sub-layer is efficient-kan's (optional LayerNorm, ReLU base, bias); here it is
  the KAN paper's layer, reused from `zoo_plugins.kan`, without the LayerNorm (it is not in the
  paper, and over a 1-feature input it would zero the signal).
- The candidate cell c~_t uses sigma, as the paper's equation (the package's non-TensorFlow path
  applies tanh after sigma).
- Input projections (W x_t for all gates and sub-layers) are computed for the whole sequence
  at once before the time loop; this is the same maths, done as one matmul.
"""

from __future__ import annotations

import torch
from torch import nn

from zoo_plugins.kan.model import KANLayer

from .config import TKANConfig

__all__ = ["TKAN", "TKANLayer"]


def _orthogonal_(rows: int, cols: int) -> torch.Tensor:
    return nn.init.orthogonal_(torch.empty(rows, cols))


class TKANLayer(nn.Module):
    """One TKAN layer over a sequence: (batch, time, in_features) -> (batch, time, units)."""

    def __init__(self, in_features: int, units: int, sub_kan_orders: list[int], sub_kan_dim: int | None,
                 grid: int, grid_range: tuple[float, float]):
        super().__init__()
        self.in_features, self.units = in_features, units
        self.sub_dim = sub_dim = sub_kan_dim or in_features
        n_sub = len(sub_kan_orders)
        # gates i, f, c~ (in that order): W x + U h + b, forget bias starts at 1 (Jozefowicz et al.)
        self.kernel = nn.Parameter(nn.init.xavier_uniform_(torch.empty(in_features, 3 * units)))
        self.recurrent_kernel = nn.Parameter(_orthogonal_(units, 3 * units))
        self.bias = nn.Parameter(torch.cat([torch.zeros(units), torch.ones(units), torch.zeros(units)]))
        # RKAN sub-layers: W_{l,x~}, W_{l,h~}, and the per-unit memory weights (W_{h~z}, W_{h~h})
        self.sub_input_kernel = nn.Parameter(torch.stack([_orthogonal_(in_features, sub_dim) for _ in range(n_sub)]))
        self.sub_state_kernel = nn.Parameter(torch.stack([_orthogonal_(sub_dim, sub_dim) for _ in range(n_sub)]))
        self.sub_memory = nn.Parameter(_orthogonal_(n_sub, 2 * sub_dim).reshape(n_sub, 2, sub_dim))
        self.sub_kans = nn.ModuleList(KANLayer(sub_dim, sub_dim, grid_size=grid, k=k, grid_range=grid_range)
                                      for k in sub_kan_orders)
        # output gate from the concatenated sub-layer outputs r_t
        self.output_gate = nn.Linear(n_sub * sub_dim, units)
        nn.init.xavier_uniform_(self.output_gate.weight)
        nn.init.zeros_(self.output_gate.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, steps, _ = x.shape
        gates_x = x @ self.kernel + self.bias  # (batch, time, 3 units)
        sub_x = torch.einsum("btd,lds->btls", x, self.sub_input_kernel)  # (batch, time, L, sub_dim)
        h = x.new_zeros(batch, self.units)
        c = x.new_zeros(batch, self.units)
        sub_state = x.new_zeros(batch, len(self.sub_kans), self.sub_dim)
        w_out, w_state = self.sub_memory[:, 0], self.sub_memory[:, 1]  # (L, sub_dim) each
        outputs = []
        for t in range(steps):
            i, f, c_tilde = torch.sigmoid(gates_x[:, t] + h @ self.recurrent_kernel).chunk(3, dim=-1)
            c = f * c + i * c_tilde
            sub_in = sub_x[:, t] + torch.einsum("bls,lsr->blr", sub_state, self.sub_state_kernel)
            sub_out = torch.stack([kan(sub_in[:, l]) for l, kan in enumerate(self.sub_kans)], dim=1)
            sub_state = w_out * sub_out + w_state * sub_state
            o = torch.sigmoid(self.output_gate(sub_out.flatten(1)))
            h = o * torch.tanh(c)
            outputs.append(h)
        return torch.stack(outputs, dim=1)


class TKAN(nn.Module):
    """Stacked TKAN layers and a linear forecasting head: (batch, time, input_dim) -> (batch, output_dim).

    A univariate series may also be given as (batch, time) when input_dim is 1.
    """

    def __init__(self, config: TKANConfig | None = None):
        super().__init__()
        self.config = config = config or TKANConfig()
        widths = [config.input_dim, *config.hidden]
        self.layers = nn.ModuleList(
            TKANLayer(n_in, n_out, config.sub_kan_orders, config.sub_kan_dim, config.grid, tuple(config.grid_range))
            for n_in, n_out in zip(widths[:-1], widths[1:])
        )
        self.head = nn.Linear(config.hidden[-1], config.output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expected = f"(batch, time, {self.config.input_dim})" + (" or (batch, time)" if self.config.input_dim == 1 else "")
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise TypeError(f"TKAN expects a floating-point tensor of shape {expected}, got "
                            f"{x.dtype if torch.is_tensor(x) else type(x).__name__}")
        if x.dim() == 2 and self.config.input_dim == 1:
            x = x.unsqueeze(-1)
        if x.dim() != 3 or x.shape[-1] != self.config.input_dim or x.shape[1] < 1:
            raise ValueError(f"TKAN expects input of shape {expected}, got {tuple(x.shape)}")
        for layer in self.layers:
            x = layer(x)
        return self.head(x[:, -1])
