"""LSSLConfig: the typed config of `lssl`, with the defaults of Gu et al. (2021, arXiv:2110.13985)
for sequential image classification as we read its appendix: 6 layers, H = 256 features, N = 256
state size (HiPPO-LegS order), M = 1 output channel per feature, dropout 0.2, timescales dt drawn
log-uniformly in [1e-4, 1e-1], bilinear (GBT alpha = 1/2) discretisation, A and dt trained."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from zoo.config import Config, Field


class LSSLConfig(Config):
    in_features: int = Field(1, ge=1, le=100000, description="input features per time step (1: one pixel)")
    num_classes: int = Field(10, ge=1, le=100000, description="classes of the sequence classifier")
    d_model: int = Field(256, ge=1, le=16384, description="H: features, each an independent copy of the state space")
    d_state: int = Field(256, ge=1, le=4096, description="N: state size, the order of the HiPPO-LegS matrix A")
    channels: int = Field(1, ge=1, le=64, description="M: output channels of C per feature, mixed back to H")
    n_layers: int = Field(6, ge=1, le=128, description="stacked LSSL blocks")
    dropout: float = Field(0.2, ge=0.0, lt=1.0, description="dropout after each block's position-wise layer")
    dt_min: float = Field(1e-4, gt=0.0, le=10.0, description="lower end of the log-uniform init of the timescales dt")
    dt_max: float = Field(1e-1, gt=0.0, le=10.0, description="upper end of the log-uniform init of the timescales dt")
    discretization: Literal["bilinear", "zoh", "forward_euler", "backward_euler"] = Field(
        "bilinear", description="how x' = Ax + Bu becomes a recurrence: GBT alpha = 1/2 (bilinear), 0 (forward "
                                "Euler), 1 (backward Euler), or zero-order hold")
    learn_a: bool = Field(True, description="train A and B from their HiPPO-LegS init (False: the paper's LSSL-fixed)")
    learn_dt: bool = Field(True, description="train the timescales dt (kept positive through log dt)")
    mode: Literal["convolution", "recurrence"] = Field(
        "convolution", description="the view used in forward: convolution with the Krylov kernel (parallel) or "
                                   "the step-by-step recurrence (same outputs)")
    pool: Literal["last", "mean"] = Field("last", description="sequence readout: the last step's features or their mean")

    @model_validator(mode="after")
    def _timescales_ordered(self) -> "LSSLConfig":
        if self.dt_min > self.dt_max:
            raise ValueError(f"dt_min ({self.dt_min}) must not exceed dt_max ({self.dt_max})")
        return self
