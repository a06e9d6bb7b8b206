"""DKFConfig: the typed config of `discriminative-kalman-filter`, the Discriminative Kalman Filter of
Burkhart, Brandman, Franco, Hochberg & Harrison ("A Discriminative Approach to Bayesian Filtering
with Applications to Human Neural Decoding", Neural Computation 2020): linear-Gaussian state
dynamics and a learned Gaussian approximation p(z_t | x_t) ~ N(f(x_t), Q(x_t))."""

from __future__ import annotations

from typing import Literal

from zoo.config import Config, Field


class DKFConfig(Config):
    obs_dim: int = Field(20, ge=1, le=100000, description="dimension of the observations x_t (e.g. neural channels)")
    state_dim: int = Field(2, ge=1, le=1024, description="dimension of the hidden state z_t (e.g. cursor velocity)")
    hidden_dim: int = Field(64, ge=1, le=65536, description="width of the hidden layers of f (the paper's DKF-NN: an MLP)")
    hidden_layers: int = Field(2, ge=1, le=16, description="hidden layers of f")
    covariance: Literal["constant", "learned"] = Field(
        "constant",
        description="Q(x): 'constant' is the covariance of f's residuals on held-out data (the paper's DKF-NN); "
                    "'learned' is a diagonal Q(x) from a second head of the network trained by the Gaussian NLL")
    min_variance: float = Field(1e-6, gt=0.0, le=1.0, description="floor on the variances of Q(x) (numerical safety)")
