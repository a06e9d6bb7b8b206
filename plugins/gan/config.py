"""GANConfig: the typed config of `gan`, with the defaults of the paper's MNIST model
(Goodfellow et al., 2014, arXiv:1406.2661, Sec. 5 and its released pylearn2 configuration)."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator

from zoo.config import Config, Field


def _positive_sizes(name: str, sizes: list[int], allow_empty: bool = False) -> list[int]:
    if (not sizes and not allow_empty) or any(s < 1 for s in sizes):
        raise ValueError(f"{name} must be a list of sizes >= 1, got {sizes}")
    return sizes


class GANConfig(Config):
    data_shape: list[int] = Field([784], description="shape of one data sample (the paper: 784 MNIST pixels)")
    latent_dim: int = Field(100, ge=1, le=65536, description="dimension of the noise z fed to the generator")
    generator_hidden: list[int] = Field([1200, 1200], description="widths of the generator's ReLU hidden layers")
    discriminator_hidden: list[int] = Field(
        [240, 240], description="widths of the discriminator's maxout hidden layers")
    maxout_pieces: int = Field(5, ge=1, le=64, description="linear pieces per maxout unit of the discriminator")
    dropout: float = Field(0.5, ge=0.0, lt=1.0, description="dropout on the discriminator's hidden layers")
    input_dropout: float = Field(0.2, ge=0.0, lt=1.0, description="dropout on the discriminator's input")
    output_activation: Literal["sigmoid", "identity"] = Field(
        "sigmoid", description="generator output: sigmoid for data in [0, 1] (MNIST), identity for real-valued data")
    k_steps: int = Field(1, ge=1, le=100, description="discriminator steps per generator step (Algorithm 1's k)")
    generator_loss: Literal["non-saturating", "minimax"] = Field(
        "non-saturating",
        description="non-saturating: maximise log D(G(z)) (Sec. 3); minimax: minimise log(1 - D(G(z)))")
    optimizer: Literal["sgd", "adam"] = Field(
        "sgd", description="sgd: momentum SGD as in the paper; adam: Adam(beta1=0.5)")
    momentum: float = Field(0.5, ge=0.0, lt=1.0, description="SGD momentum (unused by adam)")

    @field_validator("data_shape")
    @classmethod
    def _data_shape(cls, shape: list[int]) -> list[int]:
        return _positive_sizes("data_shape", shape)

    @field_validator("generator_hidden", "discriminator_hidden")
    @classmethod
    def _hidden(cls, sizes: list[int], info) -> list[int]:
        return _positive_sizes(info.field_name, sizes)
