"""DyAdConfig: the typed config of `dyad`, DyAd of Wang, Walters & Yu (NeurIPS 2022), "Meta-Learning
Dynamics Forecasting Using Task Inference": an encoder infers a time-invariant task code from the
start of a sequence (weakly supervised by the known physical parameters) and modulates a shared
convolutional forecaster through AdaIN and adaptive padding."""

from __future__ import annotations

from zoo.config import Config, Field


class DyAdConfig(Config):
    channels: int = Field(2, ge=1, le=4096, description="state dimensions of the series (input and output channels)")
    lookback: int = Field(20, ge=4, le=100000, description="input steps the encoder and the forecaster read")
    horizon: int = Field(20, ge=1, le=100000, description="future steps forecast at once")
    hidden: int = Field(32, ge=1, le=4096, description="channels of the forecaster's residual blocks")
    blocks: int = Field(2, ge=1, le=64, description="residual blocks of the forecaster (each: 2 convolutions)")
    kernel_size: int = Field(3, ge=1, le=63, description="odd temporal kernel size of the convolutions")
    encoder_hidden: int = Field(32, ge=1, le=4096, description="channels of the encoder's convolutions")
    code_dim: int = Field(8, ge=1, le=4096, description="size of the task code z")
    param_dim: int = Field(
        2, ge=0, le=4096,
        description="leading entries of z supervised by the known physical parameters (weak supervision; 0: none)")
    adaptive: bool = Field(
        True, description="True: DyAd (encoder, AdaIN, adaptive padding); False: the same forecaster without the "
                          "encoder (instance norm with learned constant affine, zero padding), the paper's baseline")
    weak_weight: float = Field(1.0, ge=0.0, le=1e4, description="alpha: weight of the weak-supervision loss ||z_p - c||^2")
    invariance_weight: float = Field(
        0.1, ge=0.0, le=1e4,
        description="beta: weight of the time-invariance loss between the codes of the two halves of the input window")
