"""Typed configs of `neural-ode` (the ODE-Net classifier) and `latent-ode` (the latent trajectory
model), with the defaults of Neural Ordinary Differential Equations (Chen, Rubanova, Bettencourt
and Duvenaud, 2018, arXiv:1806.07366) and its authors' torchdiffeq examples."""

from __future__ import annotations

from typing import Literal

from zoo.config import Config, Field

# Numerics of the float32 solver state: below float32's resolution an adaptive step can never meet
# the relative tolerance and shrinks without end (1e-12 took a minute on one spiral batch), and an
# integration time that rounds to 0 in float32 gives the solver no interval.
MIN_RTOL = 1e-7
MIN_TIME = 1e-38

Solver = Literal["dopri5", "bosh3", "adaptive_heun", "fehlberg2", "dopri8", "euler", "midpoint", "rk4"]


class ODENetConfig(Config):
    in_channels: int = Field(1, ge=1, le=4096, description="image channels")
    num_classes: int = Field(10, ge=2, le=100000, description="output classes")
    channels: int = Field(64, ge=1, le=4096, description="feature maps of the downsampling stem and the ODE block (paper: 64)")
    downsample_steps: int = Field(2, ge=0, le=8, description="stride-2 4x4 convolutions after the 3x3 stem (paper, MNIST: 2)")
    block: Literal["ode", "resnet"] = Field(
        "ode", description="ode: one ODE block (ODE-Net); resnet: the paper's baseline, residual blocks of the same function")
    resnet_blocks: int = Field(6, ge=1, le=1000, description="residual blocks of the resnet baseline (paper: 6)")
    solver: Solver = Field("dopri5", description="torchdiffeq method (paper: adaptive Runge-Kutta dopri5)")
    rtol: float = Field(1e-3, ge=MIN_RTOL, le=1.0, description="relative error tolerance of the adaptive solver (authors' code: 1e-3)")
    atol: float = Field(1e-3, gt=0.0, le=1.0, description="absolute error tolerance of the adaptive solver (authors' code: 1e-3)")
    adjoint: bool = Field(True, description="gradients by the adjoint method (constant memory, Sec. 2) instead of backprop through the solver")
    integration_time: float = Field(1.0, ge=MIN_TIME, le=1000.0, description="the block integrates dh/dt = f(h, t) from t=0 to this time")


class LatentODEConfig(Config):
    obs_dim: int = Field(2, ge=1, le=4096, description="dimensions of each observation (2 for planar spirals)")
    latent_dim: int = Field(4, ge=1, le=4096, description="size of the latent state z (authors' spiral example: 4)")
    ode_hidden: int = Field(20, ge=1, le=65536, description="hidden units of the latent dynamics MLP f(z) (example: 20)")
    rnn_hidden: int = Field(25, ge=1, le=65536, description="hidden units of the recognition RNN (example: 25)")
    decoder_hidden: int = Field(20, ge=1, le=65536, description="hidden units of the observation decoder (example: 20)")
    solver: Solver = Field("dopri5", description="torchdiffeq method")
    rtol: float = Field(1e-3, ge=MIN_RTOL, le=1.0, description="relative error tolerance of the adaptive solver")
    atol: float = Field(1e-4, gt=0.0, le=1.0, description="absolute error tolerance of the adaptive solver")
    adjoint: bool = Field(False, description="gradients by the adjoint method instead of backprop through the solver")
