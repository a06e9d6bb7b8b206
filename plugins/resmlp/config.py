"""ResMLPConfig: the typed config of `resmlp`, with the paper's defaults (arXiv:2105.03404).

The defaults are ResMLP-S12 at 224x224 on ImageNet-1k; S24, S36, B24, B24/8 and a small variant for
8x8 digits are catalog presets.
"""

from __future__ import annotations

from pydantic import model_validator

from zoo.config import Config, Field


class ResMLPConfig(Config):
    img_size: int = Field(224, ge=1, le=4096, description="input height = width in pixels")
    in_chans: int = Field(3, ge=1, le=256, description="input channels")
    num_classes: int = Field(1000, ge=1, le=100_000, description="classes of the linear head")
    patch_size: int = Field(16, ge=1, le=4096, description="patch resolution P; must divide img_size")
    num_blocks: int = Field(12, ge=1, le=256, description="number of residual layers (the 12 of ResMLP-S12)")
    hidden_dim: int = Field(384, ge=1, le=65_536, description="channels d of every patch (S: 384, B: 768)")
    mlp_ratio: float = Field(4.0, gt=0.0, le=64.0, description="hidden width of the per-patch MLP as a multiple of d (paper: 4)")
    layerscale_init: float = Field(
        0.1, gt=0.0, le=1.0,
        description="initial LayerScale of both residual branches (paper: 0.1 at depth 12, 1e-5 at 24, 1e-6 at 36)",
    )
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout inside the per-patch MLP")
    drop_path_rate: float = Field(0.0, ge=0.0, lt=1.0, description="stochastic depth rate of every layer")

    @model_validator(mode="after")
    def _patches_tile_the_image(self) -> "ResMLPConfig":
        if self.img_size % self.patch_size:
            raise ValueError(
                f"patch_size={self.patch_size} must divide img_size={self.img_size} "
                f"(for 8x8 digits use variant='digits', patch_size 2)"
            )
        if int(self.mlp_ratio * self.hidden_dim) < 1:
            raise ValueError(f"mlp_ratio={self.mlp_ratio} times hidden_dim={self.hidden_dim} leaves an MLP with no hidden unit")
        return self
