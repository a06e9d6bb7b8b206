"""Fourier head (Gillman, Sun, Wang, Hsu & Sun, 2024, arXiv:2410.22269).

A drop-in replacement for the last linear layer of a model that outputs a categorical distribution
over m ordered bins of [-1, 1]. Instead of m free logits it predicts a smooth density (Algorithm 1
of the paper, Sec. 3):

1. a linear layer maps the input to 2(N + 1) numbers, the real and imaginary parts of a_0..a_N;
2. their autocorrelation c_k = sum_{l=0}^{N-k} a_l conj(a_{l+k}), k = 0..N, are the Fourier
   coefficients of |sum_l a_l e^{-i pi l z}|^2 >= 0 (Fejer-Riesz), so the truncated Fourier series
       p(z) = 1/2 + Re( sum_{k=1}^{N} (c_k / Re c_0) e^{i pi k z} )
   is a probability density on [-1, 1]: non-negative and integrating to 1 (the constant term 1/2
   times the interval's length 2);
3. p is evaluated at the m bin centres b_j = -1 + (2j + 1)/m and normalised, y_j = p(b_j) / sum p(b_i),
   and the head returns log(y_j + eps) (the paper's "inverse softmax"), so a softmax or the usual
   cross-entropy recovers y.

Fourier regularisation (Sec. 3.2): gamma * sum_k k^2 |c_k|^2 penalises high frequencies, which the
paper shows lets the head ignore high-frequency noise; as in the authors' code the sum is scaled by
4 pi^2 (the squared L2 norm of the series' derivative), taken over the unnormalised c_k and
averaged over the batch. `FourierHead.regularization_loss` holds the last forward's value.

The smoothness metric (Sec. 4.1) of a pmf L over m bins: s(L) = sum_{sigma=1}^{100} alpha_sigma
||L - G_sigma * L||_2 with alpha_sigma = 6 / (pi^2 sigma^2) (the weights sum to 1) and G_sigma the
Gaussian filter of width sigma bins with wrap-around padding; lower is smoother. `smoothness`
computes it with scipy's gaussian_filter1d applied to the identity (the filter is linear), once
per sigma.

Departures from the paper: none in the maths. The coefficient layer starts at PyTorch's default
init divided by 100 (weights and bias), as in the authors' code, so the initial density is nearly
uniform. The autocorrelation is computed with one FFT pair instead of N + 1 shifted sums (equal up
to rounding; `autocorrelation_direct` is the sum as written). The paper's c_k is the complex
conjugate of the authors' code's (their convolution sums a_{l+k} conj(a_l)): the two densities are
mirror images, p(z) and p(-z), so on the same weights the two heads give mirrored pmfs. Under mixed precision only the coefficient layer
runs at the lower precision; the series is evaluated in float32.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
from torch import nn

from .config import FourierHeadConfig

__all__ = ["FourierHead", "FourierHeadMLP", "autocorrelation", "autocorrelation_direct", "bin_centres", "smoothness", "SMOOTHNESS_SIGMAS"]

SMOOTHNESS_SIGMAS = tuple(range(1, 101))


def bin_centres(num_bins: int) -> torch.Tensor:
    """b_j = -1 + (2j + 1)/m, j = 0..m-1: the centres of m equal bins of [-1, 1]."""
    return -1.0 + (2.0 * torch.arange(num_bins, dtype=torch.float64) + 1.0) / num_bins


def autocorrelation(real: torch.Tensor, imag: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(Re c, Im c) of c_k = sum_{l=0}^{N-k} a_l conj(a_{l+k}), k = 0..N, for a = real + i imag of
    shape (..., N + 1), through the FFT: with A = FFT(a) zero-padded to 2(N + 1) points,
    IFFT(|A|^2)_k = sum_l a_{l+k} conj(a_l) = conj(c_k) (the padding makes the circular sum linear)."""
    n = real.shape[-1]
    spectrum = torch.fft.fft(torch.complex(real, imag), n=2 * n)
    lagged = torch.fft.ifft(spectrum.real ** 2 + spectrum.imag ** 2)[..., :n]
    return lagged.real, -lagged.imag


def autocorrelation_direct(real: torch.Tensor, imag: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The same c_k summed shift by shift as Algorithm 1 writes it (the reference for `autocorrelation`)."""
    n = real.shape[-1]
    re, im = [], []
    for k in range(n):
        ar, ai, br, bi = real[..., :n - k], imag[..., :n - k], real[..., k:], imag[..., k:]
        # (ar + i ai)(br - i bi) = (ar br + ai bi) + i (ai br - ar bi)
        re.append((ar * br + ai * bi).sum(-1))
        im.append((ai * br - ar * bi).sum(-1))
    return torch.stack(re, -1), torch.stack(im, -1)


class FourierHead(nn.Module):
    """in_features -> log-probabilities over num_bins bins of [-1, 1], through a Fourier density
    with num_frequencies frequencies (Algorithm 1)."""

    def __init__(self, in_features: int, num_bins: int, num_frequencies: int, regularization_gamma: float = 1e-6,
                 inverse_softmax_eps: float = 1e-5, init_denominator: float = 100.0):
        super().__init__()
        self.in_features, self.num_bins, self.num_frequencies = in_features, num_bins, num_frequencies
        self.regularization_gamma, self.eps = regularization_gamma, inverse_softmax_eps
        self.coefficients = nn.Linear(in_features, 2 * (num_frequencies + 1))
        with torch.no_grad():
            self.coefficients.weight.div_(init_denominator)
            self.coefficients.bias.div_(init_denominator)
        k = torch.arange(1, num_frequencies + 1, dtype=torch.float64)
        angles = math.pi * bin_centres(num_bins)[:, None] * k[None, :]  # (m, N): pi k b_j
        self.register_buffer("cos_table", angles.cos().float(), persistent=False)
        self.register_buffer("sin_table", angles.sin().float(), persistent=False)
        self.register_buffer("penalty", (4 * math.pi ** 2 * torch.arange(num_frequencies + 1.0) ** 2).float(),
                             persistent=False)
        self.regularization_loss = torch.zeros(())

    def fourier_coefficients(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Steps 1-2: (Re c, Im c), the unnormalised autocorrelation coefficients c_0..c_N."""
        params = self.coefficients(x)
        n = self.num_frequencies + 1
        return autocorrelation(params[..., :n], params[..., n:])

    def density(self, c_real: torch.Tensor, c_imag: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """p(z) = 1/2 + Re sum_k (c_k / Re c_0) e^{i pi k z} at points z (any shape), per batch row."""
        k = torch.arange(1, self.num_frequencies + 1, device=z.device, dtype=c_real.dtype)
        angles = math.pi * z.to(c_real.dtype).reshape(-1, 1) * k  # (points, N)
        scale = c_real[..., :1]
        return 0.5 + ((c_real[..., 1:] / scale) @ angles.cos().T - (c_imag[..., 1:] / scale) @ angles.sin().T)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise TypeError(f"FourierHead expects a floating-point input of shape (..., {self.in_features}), "
                            f"got {getattr(x, 'dtype', type(x).__name__)}")
        if x.dim() < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"FourierHead expects input of shape (..., {self.in_features}), got {tuple(x.shape)}")
        params = self.coefficients(x)  # step 1, at the caller's precision
        if params.dtype in (torch.float16, torch.bfloat16):
            params = params.float()
        # the rest runs in (at least) float32 even under mixed precision: the FFT has no bf16 kernel on
        # most devices, and the normalised coefficients c_k / c_0 need more than bf16's 3 digits
        with torch.autocast(device_type=x.device.type, enabled=False):
            n = self.num_frequencies + 1
            c_real, c_imag = autocorrelation(params[..., :n], params[..., n:])
            scale = c_real[..., :1]
            # step 3: p at the bin centres, Re((c_k / c_0) e^{i pi k b}) = Re(c_k) cos - Im(c_k) sin
            cos_table, sin_table = self.cos_table.to(params.dtype), self.sin_table.to(params.dtype)
            likelihood = 0.5 + (c_real[..., 1:] / scale) @ cos_table.T - (c_imag[..., 1:] / scale) @ sin_table.T
            pmf = likelihood / likelihood.sum(-1, keepdim=True)
            self.regularization_loss = self.regularization_gamma * (
                (c_real ** 2 + c_imag ** 2) @ self.penalty.to(params.dtype)).mean()
            return torch.log(pmf + self.eps)


class FourierHeadMLP(nn.Module):
    """The paper's toy model: a ReLU MLP backbone ending in a Fourier head (or, `head="linear"`, in a
    linear layer to num_bins logits, the baseline). `forward` returns logits over the bins."""

    def __init__(self, config: FourierHeadConfig | None = None):
        super().__init__()
        self.config = config = config or FourierHeadConfig()
        layers: list[nn.Module] = []
        width = config.in_features
        for h in config.hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.backbone = nn.Sequential(*layers)
        if config.head == "fourier":
            self.head = FourierHead(width, config.num_bins, config.num_frequencies, config.regularization_gamma,
                                    config.inverse_softmax_eps, config.init_denominator)
        else:
            self.head = nn.Linear(width, config.num_bins)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise TypeError(f"FourierHeadMLP expects a floating-point input of shape (batch, {self.config.in_features}), "
                            f"got {getattr(x, 'dtype', type(x).__name__)}")
        if x.dim() != 2 or x.shape[1] != self.config.in_features:
            raise ValueError(f"FourierHeadMLP expects input of shape (batch, {self.config.in_features}), "
                             f"got {tuple(x.shape)}")
        return self.head(self.backbone(x))

    @torch.no_grad()
    def pmf(self, x: torch.Tensor) -> torch.Tensor:
        """The predicted categorical distribution over the bins, (batch, num_bins)."""
        return self(x).softmax(-1)

    def regularization_loss(self) -> torch.Tensor:
        """The Fourier regulariser of the last forward pass (0 for the linear head)."""
        return self.head.regularization_loss if isinstance(self.head, FourierHead) else torch.zeros(())

    def training_step(self, batch, step) -> dict[str, float]:
        """Cross-entropy of the task plus the Fourier regulariser, one optimizer step."""
        output = self(batch[0])
        task_loss = step.loss(output, batch)
        loss = task_loss + self.regularization_loss().to(task_loss)
        step.backward(loss)
        step.step()
        return {"loss": float(loss.detach()), "cross_entropy": float(task_loss.detach())}


@lru_cache(maxsize=8)
def _smoothing_operators(num_bins: int, sigmas: tuple[int, ...]) -> np.ndarray:
    """(len(sigmas), m, m): I - G_sigma, each G_sigma the wrap-around Gaussian filter as a matrix."""
    from scipy.ndimage import gaussian_filter1d

    eye = np.eye(num_bins)
    return np.stack([eye - gaussian_filter1d(eye, s, axis=0, mode="wrap", radius=num_bins - 1) for s in sigmas])


def smoothness(pmfs, sigmas: tuple[int, ...] = SMOOTHNESS_SIGMAS) -> np.ndarray:
    """The paper's smoothness metric of each pmf (rows of `pmfs`, shape (n, m)): sum over sigma of
    6/(pi^2 sigma^2) * ||L - G_sigma * L||_2. Lower is smoother."""
    pmfs = np.asarray(pmfs.detach().cpu() if torch.is_tensor(pmfs) else pmfs, dtype=np.float64)
    if pmfs.ndim != 2:
        raise ValueError(f"smoothness expects pmfs of shape (n, num_bins), got {pmfs.shape}")
    ops = _smoothing_operators(pmfs.shape[1], tuple(sigmas))  # (S, m, m)
    alphas = 6.0 / (np.pi ** 2 * np.asarray(sigmas, dtype=np.float64) ** 2)
    residuals = np.einsum("sij,nj->sni", ops, pmfs)  # (S, n, m): (I - G_sigma) L
    return np.einsum("s,sn->n", alphas, np.linalg.norm(residuals, axis=-1))
