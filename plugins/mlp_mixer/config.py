"""MLPMixerConfig: the typed config of `mlp-mixer`, with the paper's defaults (arXiv:2105.01601).

The defaults are Mixer-S/16 at 224x224 on ImageNet-1k (Table 1 of the paper); the other named
variants (S/32, B/16, B/32, L/16, L/32, H/14 and a small one for 8x8 digits) are catalog presets.
"""

from __future__ import annotations

from pydantic import model_validator

from zoo.config import Config, Field


class MLPMixerConfig(Config):
    img_size: int = Field(224, ge=1, le=4096, description="input height = width in pixels")
    in_chans: int = Field(3, ge=1, le=256, description="input channels")
    num_classes: int = Field(1000, ge=1, le=100_000, description="classes of the linear head")
    patch_size: int = Field(16, ge=1, le=4096, description="patch resolution P (the /16 of Mixer-S/16); must divide img_size")
    num_blocks: int = Field(8, ge=1, le=256, description="number of Mixer layers")
    hidden_dim: int = Field(512, ge=1, le=65_536, description="hidden size C: channels of every patch")
    token_mlp_ratio: float = Field(
        0.5, gt=0.0, le=64.0,
        description="token-mixing MLP width D_S as a multiple of C (paper: D_S = C/2 in every variant)",
    )
    channel_mlp_ratio: float = Field(
        4.0, gt=0.0, le=64.0,
        description="channel-mixing MLP width D_C as a multiple of C (paper: D_C = 4C in every variant)",
    )
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout before the linear head")
    drop_path_rate: float = Field(0.0, ge=0.0, lt=1.0, description="stochastic depth rate of every Mixer layer")

    @model_validator(mode="after")
    def _patches_tile_the_image(self) -> "MLPMixerConfig":
        if self.img_size % self.patch_size:
            raise ValueError(
                f"patch_size={self.patch_size} must divide img_size={self.img_size} "
                f"(for 8x8 digits use variant='digits', patch_size 2)"
            )
        for name, ratio in (("token_mlp_ratio", self.token_mlp_ratio), ("channel_mlp_ratio", self.channel_mlp_ratio)):
            if int(ratio * self.hidden_dim) < 1:
                raise ValueError(f"{name}={ratio} times hidden_dim={self.hidden_dim} leaves an MLP with no hidden unit")
        return self
