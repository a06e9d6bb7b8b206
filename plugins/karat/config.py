"""KArAtConfig: the typed config of `karat` (Kolmogorov-Arnold Attention, arXiv:2503.10632).
Defaults are ViT-Tiny with Fourier-KArAt, grid 3, blockwise (the paper's "G3B")."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator, model_validator

from zoo.config import Config, Field


class KArAtConfig(Config):
    input_shape: list[int] = Field([3, 224, 224], description="one image: [channels, height, width]")
    patch_size: int = Field(16, ge=1, le=1024, description="side of the square image patches")
    num_classes: int = Field(1000, ge=1, le=1_000_000, description="classes of the head")
    embed_dim: int = Field(192, ge=1, le=16384, description="token width (ViT-Tiny: 192)")
    depth: int = Field(12, ge=1, le=128, description="transformer blocks")
    num_heads: int = Field(3, ge=1, le=256, description="attention heads per block")
    mlp_ratio: float = Field(4.0, gt=0.0, le=64.0, description="hidden width of each block's MLP, as a multiple of embed_dim")
    grid: int = Field(3, ge=1, le=64, description="Fourier frequencies G of each learnable activation (paper's G1, G3, ...)")
    rank: int = Field(12, ge=1, le=4096, description="r: outputs of the low-rank operator before the learned projection back to N tokens")
    mode: Literal["blockwise", "universal"] = Field(
        "blockwise", description="blockwise: each block has its own operators (per head); universal: one set shared by all blocks")
    row_norm: Literal["l1", "none"] = Field(
        "l1", description="normalise each learned attention row by its l1 norm (takes softmax's role of scaling rows)")

    @field_validator("input_shape")
    @classmethod
    def _shape(cls, shape: list[int]) -> list[int]:
        if len(shape) != 3 or any(s < 1 for s in shape):
            raise ValueError(f"input_shape must be [channels, height, width], all >= 1; got {shape}")
        return shape

    @model_validator(mode="after")
    def _consistent(self) -> "KArAtConfig":
        if self.embed_dim % self.num_heads:
            raise ValueError(f"embed_dim={self.embed_dim} must be divisible by num_heads={self.num_heads}")
        if any(s % self.patch_size for s in self.input_shape[1:]):
            raise ValueError(f"input_shape={self.input_shape}: its image size {self.input_shape[1:]} must be divisible by "
                             f"patch_size={self.patch_size}")
        return self
