"""PVRNNConfig: the typed config of `pv-rnn`, the predictive-coding-inspired variational RNN of
Ahmadi & Tani ("A Novel Predictive-Coding-Inspired Variational RNN Model for Online Prediction and
Recognition", Neural Computation 31(11), 2019): multiple-timescale RNN layers with stochastic latent
units, a learned prior and a per-sequence adaptive posterior, and the KL term weighted by the
meta-prior w."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from zoo.config import Config, Field


class PVRNNConfig(Config):
    output_dim: int = Field(2, ge=1, le=4096, description="dimension of the observed sequence x_t")
    d_units: list[int] = Field(
        [20, 10], min_length=1, max_length=8,
        description="deterministic units per layer, bottom (fast, next to the output) first")
    z_units: list[int] = Field([2, 1], min_length=1, max_length=8, description="stochastic latent units z per layer")
    time_constants: list[float] = Field(
        [2.0, 8.0], min_length=1, max_length=8,
        description="tau per layer (multiple timescales: larger is slower); each >= 1")
    meta_prior: list[float] = Field(
        [0.01, 0.01], min_length=1, max_length=8,
        description="w per layer: weight of the KL divergence between posterior and prior in the ELBO")
    sequences: int = Field(
        16, ge=1, le=100000,
        description="training sequences, each with its own adaptive posterior vectors A (the paper's A^mu, A^sigma)")
    max_length: int = Field(96, ge=1, le=100000, description="longest training sequence (time steps of A)")
    output: Literal["tanh", "linear"] = Field("tanh", description="output nonlinearity of x_hat_t = g(W d^1_t)")

    @model_validator(mode="after")
    def _layers_agree(self):
        lengths = {len(self.d_units), len(self.z_units), len(self.time_constants), len(self.meta_prior)}
        if len(lengths) != 1:
            raise ValueError(f"d_units, z_units, time_constants and meta_prior need one entry per layer, got lengths "
                             f"{len(self.d_units)}, {len(self.z_units)}, {len(self.time_constants)}, "
                             f"{len(self.meta_prior)}")
        for name in ("d_units", "z_units"):
            if any(not 1 <= v <= 4096 for v in getattr(self, name)):
                raise ValueError(f"{name} entries must lie in [1, 4096], got {getattr(self, name)}")
        if any(not 1.0 <= t <= 1e4 for t in self.time_constants):
            raise ValueError(f"time_constants must lie in [1, 10000], got {self.time_constants}")
        if any(not 0.0 <= w <= 1e4 for w in self.meta_prior):
            raise ValueError(f"meta_prior entries must lie in [0, 10000], got {self.meta_prior}")
        return self
