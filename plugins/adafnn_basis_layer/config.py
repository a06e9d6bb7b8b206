"""AdaFNNConfig: the typed config of `adafnn-basis-layer`, with the defaults of Yao, Mueller & Wang
(ICML 2021) and the authors' example: 4 basis functions, each a micro network with hidden layers
[64, 64, 64], and a head MLP [128, 128, 128] with dropout 0.1 on the scores."""

from __future__ import annotations

from pydantic import field_validator

from zoo.config import Config, Field


class AdaFNNConfig(Config):
    grid_points: int = Field(51, ge=2, le=100000,
                             description="J: observation times t_1..t_J, equally spaced on [0, 1] (the input width)")
    n_bases: int = Field(4, ge=1, le=256, description="K: learned basis functions beta_1..beta_K (scores per curve)")
    basis_hidden: list[int] = Field([64, 64, 64], description="hidden widths of each basis micro network t -> beta_k(t)")
    head_hidden: list[int] = Field([128, 128, 128], description="hidden widths of the MLP on the K scores")
    dropout: float = Field(0.1, ge=0.0, lt=1.0, description="dropout after each hidden layer of the head MLP")
    output_dim: int = Field(1, ge=1, le=100000, description="regression targets, or classes for classification")
    ortho_penalty: float = Field(0.0, ge=0.0, le=1000.0,
                                 description="lambda_1: weight of the orthogonality penalty sum_{k != l} |<beta_k, beta_l>|")
    l1_penalty: float = Field(0.0, ge=0.0, le=1000.0,
                              description="lambda_2: weight of the L1 penalty sum_k integral |beta_k(t)| dt")

    @field_validator("basis_hidden", "head_hidden")
    @classmethod
    def _widths(cls, value: list[int]) -> list[int]:
        if len(value) > 16 or any(not 1 <= w <= 100000 for w in value):
            raise ValueError(f"hidden widths must be at most 16 layers of 1..100000 units, got {value}")
        return value
