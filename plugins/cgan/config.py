"""CGANConfig: the typed config of `cgan`, with the MNIST defaults of Mirza & Osindero (2014,
arXiv:1411.1784, Sec. 4.1)."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator

from zoo.config import Config, Field


class CGANConfig(Config):
    data_shape: list[int] = Field([784], description="shape of one data sample (the paper: 784 MNIST pixels)")
    num_classes: int = Field(10, ge=2, le=100000, description="number of labels y the model is conditioned on")
    latent_dim: int = Field(100, ge=1, le=65536, description="dimension of the uniform noise z (unit hypercube)")
    generator_noise_hidden: int = Field(200, ge=1, description="generator ReLU layer applied to z")
    generator_label_hidden: int = Field(1000, ge=1, description="generator ReLU layer applied to one-hot y")
    generator_joint_hidden: int = Field(1200, ge=1, description="generator's combined ReLU layer")
    discriminator_data_hidden: int = Field(240, ge=1, description="discriminator maxout units applied to x")
    discriminator_label_hidden: int = Field(50, ge=1, description="discriminator maxout units applied to y")
    discriminator_joint_hidden: int = Field(240, ge=1, description="discriminator's joint maxout units")
    data_pieces: int = Field(5, ge=1, le=64, description="maxout pieces of the x layer")
    label_pieces: int = Field(5, ge=1, le=64, description="maxout pieces of the y layer")
    joint_pieces: int = Field(4, ge=1, le=64, description="maxout pieces of the joint layer")
    dropout: float = Field(0.5, ge=0.0, lt=1.0, description="dropout on the hidden layers of both networks")
    output_activation: Literal["sigmoid", "identity"] = Field(
        "sigmoid", description="generator output: sigmoid for data in [0, 1] (MNIST), identity for real-valued data")
    k_steps: int = Field(1, ge=1, le=100, description="discriminator steps per generator step")
    generator_loss: Literal["non-saturating", "minimax"] = Field(
        "non-saturating",
        description="non-saturating: maximise log D(G(z|y)|y); minimax: minimise log(1 - D(G(z|y)|y))")
    optimizer: Literal["sgd", "adam"] = Field(
        "sgd", description="sgd: momentum SGD as in the paper; adam: Adam(beta1=0.5)")
    momentum: float = Field(0.5, ge=0.0, lt=1.0, description="SGD momentum (unused by adam)")

    @field_validator("data_shape")
    @classmethod
    def _data_shape(cls, shape: list[int]) -> list[int]:
        if not shape or any(s < 1 for s in shape):
            raise ValueError(f"data_shape must be a list of sizes >= 1, got {shape}")
        return shape
