"""`samplernn/waves`: density estimation of generated audio-like waveforms, quantised to 256 levels.

Each sequence is a sum of 1-3 harmonics of a fundamental whose frequency drifts slowly (frequency
modulation) under a slowly varying amplitude envelope (amplitude modulation), plus a little white
noise, scaled into [-0.9, 0.9] and quantised linearly (or by mu-law). The modulations are slow (periods
of hundreds of samples) and each sequence draws its own fundamental, harmonics and modulation, so a
model that keeps track of the sequence's state over long spans predicts the next sample better; the
white noise (std `noise`) is unpredictable and sets a floor on the NLL. Samples are (levels (T,), 0).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torchmetrics import Metric

from zoo.tasks import ArraySplit, Task, TaskInfo

__all__ = ["WaveformTask", "generate_waveforms", "MeanBits", "noise_floor_bits"]


def generate_waveforms(count: int, length: int, rng: np.random.Generator, noise: float = 0.02) -> np.ndarray:
    """(count, length) real waveforms in [-1, 1] (see the module docstring)."""
    t = np.arange(length, dtype=np.float64)[None, :]
    u = lambda low, high: rng.uniform(low, high, (count, 1))  # noqa: E731
    f0 = u(0.01, 0.05)  # cycles per sample: periods of 20 to 100 samples
    fm_depth, fm_period, fm_phase = u(0.0, 0.1), u(300, 1500), u(0, 2 * np.pi)
    frequency = f0 * (1 + fm_depth * np.sin(2 * np.pi * t / fm_period + fm_phase))
    phase = 2 * np.pi * np.cumsum(frequency, axis=1) + u(0, 2 * np.pi)
    harmonics = rng.integers(1, 4, (count, 1))
    wave = np.zeros((count, length))
    for k in (1, 2, 3):
        weight = rng.uniform(0.2, 1.0, (count, 1)) / k * (harmonics >= k)
        wave += weight * np.sin(k * phase + rng.uniform(0, 2 * np.pi, (count, 1)))
    wave /= np.abs(wave).max(axis=1, keepdims=True) + 1e-9
    envelope = 0.55 + 0.35 * np.sin(2 * np.pi * t / u(400, 2000) + u(0, 2 * np.pi))
    return np.clip(0.9 * envelope * wave + rng.normal(0.0, noise, (count, length)), -1.0, 1.0)


def noise_floor_bits(noise: float, levels: int = 256) -> float:
    """Entropy (bits) of the quantised white noise alone (Gaussian, std in levels; linear quantisation):
    no model can predict a sample better than this on average."""
    sigma = noise * (levels - 1) / 2.0
    return 0.5 * math.log2(2 * math.pi * math.e * sigma**2)


class MeanBits(Metric):
    """Mean of per-sequence NLLs in bits per sample, as a model's `evaluation_step` returns them."""

    full_state_update = False

    def __init__(self):
        super().__init__()
        self.add_state("total", default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, bits: torch.Tensor, target=None) -> None:
        if bits.dim() != 1:
            raise ValueError(f"MeanBits expects per-sequence NLLs of shape (batch,), got {tuple(bits.shape)}")
        self.total += bits.double().sum()
        self.count += bits.numel()

    def compute(self) -> torch.Tensor:
        return (self.total / self.count.clamp_min(1)).float()


class WaveformTask(Task):
    """Options: train / val / test sequence counts, length (samples per sequence, after `context`),
    context (samples before the first scored one), levels, quantization, noise, seed."""

    kind = "density"

    def __init__(self, train: int = 256, val: int = 32, test: int = 64, length: int = 512, context: int = 16,
                 levels: int = 256, quantization: str = "linear", noise: float = 0.02, seed: int = 0):
        if min(train, val, test, length, context) < 1:
            raise ValueError(f"train, val, test, length and context must be >= 1, got {train}, {val}, {test}, "
                             f"{length}, {context}")
        if quantization not in ("linear", "mu-law"):
            raise ValueError(f"quantization must be 'linear' or 'mu-law', got {quantization!r}")
        self.name = "samplernn/waves"
        self.sizes, self.length, self.context = {"train": train, "val": val, "test": test}, length, context
        self.levels, self.quantization, self.noise, self.seed = levels, quantization, noise, seed
        self.info = TaskInfo(kind=self.kind, input_shape=(context + length,), output_dim=levels,
                             extra={"q_levels": levels, "context": context, "length": length,
                                    "quantization": quantization})
        self._splits = None

    def splits(self) -> dict:
        if self._splits is None:
            from .model import quantize

            rng = np.random.default_rng(self.seed)
            self._splits = {}
            for name, count in self.sizes.items():
                wave = torch.as_tensor(generate_waveforms(count, self.context + self.length, rng, self.noise))
                levels = quantize(wave, self.levels, self.quantization)
                self._splits[name] = ArraySplit(levels, np.zeros(count, dtype=np.int64))
        return self._splits

    def loss(self, output, batch):
        return output.mean()  # output: a model's per-sequence bits per sample (evaluation_step)

    def metrics(self) -> dict:
        return {"bits_per_sample": MeanBits()}
