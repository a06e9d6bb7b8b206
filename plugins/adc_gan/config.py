"""ADCGANConfig: the typed config of `adc-gan`, with the defaults of the class-overlapping 1D
Gaussian-mixture experiment that ADC-GAN (Hou et al., 2021, arXiv:2107.10060) takes from TAC-GAN:
three classes, 2-d noise, tanh MLPs of width 10, Adam(2e-3, beta1 0.5), lambda 1, ten
discriminator steps per generator step."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator

from zoo.config import Config, Field


class ADCGANConfig(Config):
    data_shape: list[int] = Field([1], description="shape of one data sample (the paper's synthetic data: 1 value)")
    num_classes: int = Field(3, ge=2, le=100000, description="number of classes K the generator is conditioned on")
    loss: Literal["adc", "ac"] = Field(
        "adc", description="adc: the auxiliary discriminative classifier over 2K classes (real k / generated k); "
                           "ac: AC-GAN's classifier over K classes, trained on real data only (the baseline)")
    aux_weight: float = Field(1.0, ge=0.0, le=1000.0,
                              description="lambda: weight of the classifier terms in both players' losses")
    latent_dim: int = Field(2, ge=1, le=65536, description="dimension of the Gaussian noise z")
    generator_hidden: list[int] = Field([10, 10], description="widths of the generator's tanh hidden layers")
    discriminator_hidden: list[int] = Field(
        [10, 10, 10], description="widths of the shared tanh feature layers psi(x) of D and the classifier")
    k_steps: int = Field(10, ge=1, le=100, description="discriminator steps per generator step")
    generator_loss: Literal["non-saturating", "minimax"] = Field(
        "non-saturating", description="GAN term of the generator: non-saturating -log D(G(z, y)) or minimax")
    init_std: float = Field(0.02, gt=0.0, le=1.0,
                            description="std of the normal init of the discriminator's weights (TAC-GAN's code)")

    @field_validator("data_shape", "generator_hidden", "discriminator_hidden")
    @classmethod
    def _sizes(cls, sizes: list[int], info) -> list[int]:
        if not sizes or any(s < 1 for s in sizes):
            raise ValueError(f"{info.field_name} must be a non-empty list of sizes >= 1, got {sizes}")
        return sizes
