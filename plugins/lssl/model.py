"""LSSL: deep Linear State-Space Layers (Gu et al., 2021, arXiv:2110.13985) for sequence classification.

One LSSL maps a sequence u (length L) of each of H features through the continuous-time system of
Eq. (1), x'(t) = A x(t) + B u(t), y(t) = C x(t) + D u(t), with A (N x N) and B (N) shared by the H
copies and each copy h owning its timescale dt_h, its C_h (M x N) and D_h (M). Discretised with the
generalised bilinear transform (GBT, Eq. (3)),

    dA = (I - alpha dt A)^-1 (I + (1 - alpha) dt A),   dB = dt (I - alpha dt A)^-1 B,

(alpha = 1/2 bilinear, 0 forward Euler, 1 backward Euler) or zero-order hold (dA = exp(dt A),
dB = A^-1 (exp(dt A) - I) B), it is computed in either of the paper's two views (Sec. 3.1):

- recurrence (Eq. (4)): x_k = dA x_{k-1} + dB u_k, y_k = C x_k + D u_k;
- convolution (Eq. (5)): y = K * u + D u with the Krylov kernel K = (C dB, C dA dB, ..., C dA^{L-1} dB).

A and B start from HiPPO-LegS (Sec. 4, Eq. (6)): A_nk = -sqrt(2n+1) sqrt(2k+1) for n > k, -(n+1) for
n = k, 0 for n < k, and B_n = sqrt(2n+1); dt starts log-uniform in [dt_min, dt_max].

The deep model (Sec. 5): a linear encoder to H features, n_layers pre-norm residual blocks
(LayerNorm -> LSSL -> GELU -> position-wise linear M*H -> H -> dropout, added to the input) and a
linear decoder of the last step's (or the mean) features.

Departures: the kernel is built by repeated squaring of dA in dense N x N algebra (O(H N^2 L));
the paper's fast structured algorithm for HiPPO matrices (its Sec. 4.2 and appendix) is not
implemented, so cost grows with N^2 (fine at the sizes the CPU runs use). When A is trained it is a
dense matrix initialised at HiPPO-LegS, not kept inside the paper's structured class.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import LSSLConfig

__all__ = ["LSSL", "LSSLLayer", "LSSLBlock", "hippo_legs", "discretize", "krylov_kernel"]

GBT_ALPHA = {"forward_euler": 0.0, "bilinear": 0.5, "backward_euler": 1.0}


def hippo_legs(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """HiPPO-LegS (A, B) of order n (Eq. (6)), float64."""
    q = torch.sqrt(2 * torch.arange(n, dtype=torch.float64) + 1)
    a = -torch.tril(q[:, None] * q[None, :], diagonal=-1) - torch.diag(torch.arange(1, n + 1, dtype=torch.float64))
    return a, q.clone()


def discretize(a: torch.Tensor, b: torch.Tensor, dt: torch.Tensor, method: str = "bilinear"):
    """(dA (H, N, N), dB (H, N)) of x' = A x + B u for each timescale in dt (H,): GBT (Eq. (3)) or ZOH."""
    n = a.shape[-1]
    dt_a = dt[:, None, None] * a  # (H, N, N)
    eye = torch.eye(n, dtype=a.dtype, device=a.device)
    if method == "zoh":
        # exp of the augmented matrix [[dt A, dt B], [0, 0]] holds exp(dt A) and A^-1 (exp(dt A) - I) B
        aug = torch.zeros(len(dt), n + 1, n + 1, dtype=a.dtype, device=a.device)
        aug[:, :n, :n] = dt_a
        aug[:, :n, n] = dt[:, None] * b
        expm = torch.linalg.matrix_exp(aug)
        return expm[:, :n, :n], expm[:, :n, n]
    if method not in GBT_ALPHA:
        raise ValueError(f"discretization {method!r}: expected one of {sorted([*GBT_ALPHA, 'zoh'])}")
    alpha = GBT_ALPHA[method]
    left = eye - alpha * dt_a
    right = eye + (1 - alpha) * dt_a
    d_a = torch.linalg.solve(left, right)
    d_b = torch.linalg.solve(left, (dt[:, None] * b).unsqueeze(-1)).squeeze(-1)
    return d_a, d_b


def krylov_kernel(d_a: torch.Tensor, d_b: torch.Tensor, c: torch.Tensor, length: int) -> torch.Tensor:
    """K (H, M, L) with K[h, :, k] = C_h dA_h^k dB_h (Eq. (5)), by doubling: [v, P v] with P = dA^(2^i)."""
    vectors = d_b.unsqueeze(-1)  # (H, N, 1): dA^k dB for k < 1
    power = d_a
    while vectors.shape[-1] < length:
        vectors = torch.cat([vectors, power @ vectors], dim=-1)
        if vectors.shape[-1] < length:
            power = power @ power
    return c @ vectors[..., :length]  # (H, M, N) @ (H, N, L)


class LSSLLayer(nn.Module):
    """u (batch, L, H) -> y (batch, L, H, M): H independent copies of one discretised state space."""

    def __init__(self, d_model: int, d_state: int, channels: int = 1, dt_min: float = 1e-4, dt_max: float = 1e-1,
                 discretization: str = "bilinear", learn_a: bool = True, learn_dt: bool = True):
        super().__init__()
        if discretization not in (*GBT_ALPHA, "zoh"):
            raise ValueError(f"discretization {discretization!r}: expected one of {sorted([*GBT_ALPHA, 'zoh'])}")
        self.d_model, self.d_state, self.channels, self.discretization = d_model, d_state, channels, discretization
        a, b = hippo_legs(d_state)
        a, b = a.float(), b.float()
        if learn_a:
            self.a, self.b = nn.Parameter(a), nn.Parameter(b)
        else:
            self.register_buffer("a", a)
            self.register_buffer("b", b)
        log_dt = torch.rand(d_model) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        if learn_dt:
            self.log_dt = nn.Parameter(log_dt)
        else:
            self.register_buffer("log_dt", log_dt)
        # C ~ N(0, 1): the HiPPO state holds the input's coefficients in an orthonormal basis, so its norm is
        # the signal's and C x is of unit scale (a 1/sqrt(N) scale left the kernel ~10x below the D u skip,
        # and training stalled); D: the skip term of Eq. (1)
        self.c = nn.Parameter(torch.randn(d_model, channels, d_state))
        self.d = nn.Parameter(torch.randn(d_model, channels))

    def discrete(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(dA (H, N, N), dB (H, N)) for the current A, B, dt; in float64 for a stable solve."""
        d_a, d_b = discretize(self.a.double(), self.b.double(), self.log_dt.double().exp(), self.discretization)
        return d_a, d_b

    def kernel(self, length: int) -> torch.Tensor:
        """The Krylov kernel K (H, M, L) of Eq. (5)."""
        d_a, d_b = self.discrete()
        return krylov_kernel(d_a.float(), d_b.float(), self.c, length)

    def forward(self, u: torch.Tensor, mode: str = "convolution") -> torch.Tensor:
        if u.dim() != 3 or u.shape[-1] != self.d_model:
            raise ValueError(f"LSSLLayer expects u of shape (batch, length, {self.d_model}), got {tuple(u.shape)}")
        skip = u.unsqueeze(-1) * self.d  # D u: (B, L, H, M); first, so the sum takes its contiguous layout
        if mode == "convolution":
            return skip + self._convolution(u)
        if mode == "recurrence":
            return skip + self._recurrence(u)
        raise ValueError(f"mode {mode!r}: expected 'convolution' or 'recurrence'")

    def _convolution(self, u: torch.Tensor) -> torch.Tensor:
        length = u.shape[1]
        k = self.kernel(length)  # (H, M, L)
        n_fft = 2 * length  # zero-padded: a linear, causal convolution
        u_f = torch.fft.rfft(u.transpose(1, 2), n=n_fft)  # (B, H, F)
        k_f = torch.fft.rfft(k, n=n_fft)  # (H, M, F)
        y = torch.fft.irfft(u_f.unsqueeze(2) * k_f, n=n_fft)[..., :length]  # (B, H, M, L)
        return y.permute(0, 3, 1, 2)

    def _recurrence(self, u: torch.Tensor) -> torch.Tensor:
        d_a, d_b = (t.float() for t in self.discrete())
        x = u.new_zeros(u.shape[0], self.d_model, self.d_state)
        outputs = []
        for k in range(u.shape[1]):  # x_k = dA x_{k-1} + dB u_k;  y_k = C x_k
            x = torch.einsum("hij,bhj->bhi", d_a, x) + d_b * u[:, k, :, None]
            outputs.append(torch.einsum("hmn,bhn->bhm", self.c, x))
        return torch.stack(outputs, dim=1)


class LSSLBlock(nn.Module):
    """x + dropout(W [GELU(LSSL(LayerNorm(x)))]) with W mixing the M*H outputs back to H."""

    def __init__(self, config: LSSLConfig):
        super().__init__()
        self.norm = nn.LayerNorm(config.d_model)
        self.lssl = LSSLLayer(config.d_model, config.d_state, config.channels, config.dt_min, config.dt_max,
                              config.discretization, config.learn_a, config.learn_dt)
        self.mix = nn.Linear(config.d_model * config.channels, config.d_model)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, mode: str) -> torch.Tensor:
        y = F.gelu(self.lssl(self.norm(x), mode))
        return x + self.dropout(self.mix(y.flatten(2)))


class LSSL(nn.Module):
    """Deep LSSL classifier: (batch, L, in_features) -> (batch, num_classes) logits."""

    def __init__(self, config: LSSLConfig | None = None):
        super().__init__()
        self.config = config = config or LSSLConfig()
        self.encoder = nn.Linear(config.in_features, config.d_model)
        self.blocks = nn.ModuleList(LSSLBlock(config) for _ in range(config.n_layers))
        self.norm = nn.LayerNorm(config.d_model)
        self.decoder = nn.Linear(config.d_model, config.num_classes)

    def features(self, u: torch.Tensor, mode: str | None = None) -> torch.Tensor:
        """(batch, L, H) features after the last block, computed in `mode` (default: the config's)."""
        if not torch.is_tensor(u) or not u.is_floating_point():
            raise TypeError(f"LSSL expects a floating-point input of shape (batch, length, "
                            f"{self.config.in_features}), got {getattr(u, 'dtype', type(u).__name__)}")
        if u.dim() != 3 or u.shape[-1] != self.config.in_features or u.shape[1] < 1:
            raise ValueError(f"LSSL expects input of shape (batch, length, {self.config.in_features}), "
                             f"got {tuple(u.shape)}")
        x = self.encoder(u)
        for block in self.blocks:
            x = block(x, mode or self.config.mode)
        return self.norm(x)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        x = self.features(u)
        return self.decoder(x[:, -1] if self.config.pool == "last" else x.mean(1))


