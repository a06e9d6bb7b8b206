"""MLPKANConfig: the typed config of `mlp-kan` (MLP-KAN: Unifying Deep Representation and Function
Learning, arXiv:2410.03027). Defaults are the authors' DeiT-Tiny setting."""

from __future__ import annotations

from pydantic import field_validator, model_validator

from zoo.config import Config, Field
from zoo_plugins.kan.config import check_float32_knots


class MLPKANConfig(Config):
    input_shape: list[int] = Field(
        [3, 224, 224],
        description="one sample: [channels, height, width] images are cut into patches; [n] vectors give one token per feature")
    patch_size: int = Field(16, ge=1, le=1024, description="side of the square image patches (ignored for vector inputs)")
    output_dim: int = Field(1000, ge=1, le=1_000_000, description="outputs of the head: classes, or regression targets")
    embed_dim: int = Field(192, ge=1, le=16384, description="token width (DeiT-Tiny: 192)")
    depth: int = Field(12, ge=1, le=128, description="transformer blocks")
    num_heads: int = Field(3, ge=1, le=256, description="attention heads per block")
    ffn_dim: int = Field(
        192, ge=2, le=65536, description="hidden width of each MLP expert; KAN experts use ffn_dim // 2 (authors' code: 192)")
    num_experts: int = Field(8, ge=2, le=256, description="experts per block: half MLP experts, half KAN experts")
    top_k: int = Field(
        2, ge=1, le=256,
        description="experts each token is routed to, weighted by the renormalised router softmax; num_experts = a fully soft mixture")
    kan_grid: int = Field(5, ge=1, le=1000, description="grid intervals G of the KAN experts' splines")
    kan_k: int = Field(3, ge=0, le=10, description="spline order k of the KAN experts")
    kan_grid_range: tuple[float, float] = Field(
        (-2.0, 2.0), description="initial spline grid of the KAN experts; their inputs are layer-normalised tokens")

    @field_validator("input_shape")
    @classmethod
    def _shape(cls, shape: list[int]) -> list[int]:
        if len(shape) not in (1, 3) or any(s < 1 for s in shape):
            raise ValueError(f"input_shape must be [n] (a vector) or [channels, height, width] (an image), all >= 1; got {shape}")
        return shape

    @model_validator(mode="after")
    def _consistent(self) -> "MLPKANConfig":
        if self.embed_dim % self.num_heads:
            raise ValueError(f"embed_dim={self.embed_dim} must be divisible by num_heads={self.num_heads}")
        if self.num_experts % 2:
            raise ValueError(f"num_experts={self.num_experts} must be even: half MLP experts, half KAN experts")
        if self.top_k > self.num_experts:
            raise ValueError(f"top_k={self.top_k} cannot exceed num_experts={self.num_experts}")
        if len(self.input_shape) == 3 and any(s % self.patch_size for s in self.input_shape[1:]):
            raise ValueError(f"input_shape={self.input_shape}: its image size {self.input_shape[1:]} must be divisible by "
                             f"patch_size={self.patch_size}")
        check_float32_knots(self.kan_grid_range, self.kan_grid, self.kan_k, "kan_grid_range")
        return self
