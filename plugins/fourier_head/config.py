"""FourierHeadConfig: the typed config of `fourier-head`, with the defaults of the toy experiment
of Gillman et al. (2024, arXiv:2410.22269, Sec. 4): an MLP 2 -> 64 -> 32 (ReLU) ending in a Fourier
head over 50 bins of [-1, 1], 12 frequencies, regularisation weight gamma = 1e-6."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator

from zoo.config import Config, Field


class FourierHeadConfig(Config):
    in_features: int = Field(2, ge=1, le=100000, description="input features of the MLP backbone")
    num_bins: int = Field(50, ge=2, le=100000, description="m: bins of [-1, 1] the head predicts a distribution over")
    hidden: list[int] = Field([64, 32], description="widths of the backbone's ReLU hidden layers")
    head: Literal["fourier", "linear"] = Field(
        "fourier", description="fourier: the Fourier head; linear: a linear layer to m logits (the baseline)")
    num_frequencies: int = Field(12, ge=1, le=10000, description="N: frequencies of the truncated Fourier series")
    regularization_gamma: float = Field(
        1e-6, ge=0.0, le=1.0, description="gamma of the Fourier regulariser (penalises high frequencies); 0 turns it off")
    inverse_softmax_eps: float = Field(
        1e-5, gt=0.0, le=1.0, description="the head returns log(p + eps) as logits (the authors' constant)")
    init_denominator: float = Field(
        100.0, ge=1.0, le=1e6, description="the coefficient layer's default init is divided by this (near-uniform start)")

    @field_validator("hidden")
    @classmethod
    def _hidden(cls, sizes: list[int]) -> list[int]:
        if any(s < 1 for s in sizes):
            raise ValueError(f"hidden must be a list of sizes >= 1, got {sizes}")
        return sizes
