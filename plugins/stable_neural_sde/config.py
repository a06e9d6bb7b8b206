"""StableNeuralSDEConfig: the typed config of `stable-neural-sde` (Oh, Lim & Kim, "Stable Neural
Stochastic Differential Equations in Analyzing Irregular Time Series Data", ICLR 2024): the SDE class
(Langevin-type, linear-noise, geometric, or the naive neural SDE they are compared with), the latent
width, the drift and diffusion networks, and the time axis [0, horizon] and Euler-Maruyama step of
torchsde's solver."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from zoo.config import Config, Field

SDE_TYPES = ("langevin", "linear-noise", "geometric", "naive")


class StableNeuralSDEConfig(Config):
    input_channels: int = Field(
        3, ge=3, le=1025,
        description="channels per observation: time (scaled to [0, 1]) first, then values, then 0/1 observed flags "
                    "(the layout of dynamics/irregular)")
    num_classes: int = Field(4, ge=2, le=10000, description="classes of the classifier read from z(T)")
    sde_type: Literal["langevin", "linear-noise", "geometric", "naive"] = Field(
        "langevin",
        description="langevin: dz = gamma(z_bar) dt + sigma(t) dW; linear-noise: dz = gamma(t, z_bar) dt + sigma(t) z dW; "
                    "geometric: dz = gamma(t, z_bar) z dt + sigma(t) z dW; naive: dz = f(t, z_bar) dt + g(t, z) dW with "
                    "unconstrained networks (the baseline)")
    hidden_dim: int = Field(16, ge=1, le=1024, description="width of the latent state z")
    vector_field_width: int = Field(32, ge=1, le=4096, description="hidden width of the drift and diffusion networks")
    vector_field_layers: int = Field(2, ge=1, le=16, description="hidden layers of the drift network")
    use_path: bool = Field(True, description="feed the controlled path X(t) of the observations to the drift "
                                             "(z_bar = zeta(t, z, X(t)), as the paper does); False: the drift sees (t, z) only")
    horizon: float = Field(
        1.0, gt=0.0, le=10000.0,
        description="length of the solver's time axis: the observation times, scaled to [0, 1] in the input, are "
                    "stretched to [0, horizon] (the paper integrates over the series' own time, not a rescaled "
                    "one; e.g. 10 for dynamics/irregular's [0, t_max = 10])")
    dt: float = Field(0.05, ge=0.001, le=1000.0,
                      description="Euler-Maruyama step on the solver's time axis [0, horizon]")

    @model_validator(mode="after")
    def _values_and_flags_pair_up(self) -> "StableNeuralSDEConfig":
        if self.input_channels % 2 == 0:
            raise ValueError(f"input_channels={self.input_channels} must be odd: a time channel, then as many value "
                             f"channels as observed-flag channels")
        if self.dt > self.horizon:
            raise ValueError(f"dt={self.dt} must be at most horizon={self.horizon}: at least one solver step")
        return self
