"""ARNetConfig: the typed config of `ar-net`, with the defaults of Triebe, Laptev & Rajagopal (2019,
arXiv:1911.12436): one linear layer over the p last values, no hidden layer, and the sparsity
regulariser R(theta) of Sec. 3.3 with c1 = c2 = 3 and lambda = c_lambda (1 / s_hat - 1)."""

from __future__ import annotations

from zoo.config import Config, Field


class ARNetConfig(Config):
    lags: int = Field(10, ge=1, le=100000, description="p: how many past values the model reads (the AR order it may fit)")
    hidden_layers: int = Field(
        0, ge=0, le=16, description="hidden ReLU layers before the output (0: AR-Net proper, one linear layer)")
    hidden_dim: int = Field(0, ge=0, le=100000, description="width of the hidden layers (0: p, as in the authors' code)")
    bias: bool = Field(True, description="learn an intercept c beside the AR coefficients")
    sparsity: float = Field(
        1.0, gt=0.0, le=1.0,
        description="s_hat, the estimated share of nonzero coefficients (order / p); 1 turns the regulariser off")
    reg_strength: float = Field(0.02, ge=0.0, le=100.0, description="c_lambda in lambda = c_lambda (1 / s_hat - 1)")
    reg_c1: float = Field(3.0, gt=0.0, le=100.0, description="c1 of R(theta): steepness")
    reg_c2: float = Field(3.0, ge=1.0, le=100.0, description="c2 of R(theta): |theta| enters as |theta|^(1/c2)")
    reg_ramp: float = Field(
        0.5, ge=0.0, le=1.0,
        description="share of training over which lambda rises linearly from 0 to its value (0: full from the start)")
