"""DeltaNetConfig: the typed config of `deltanet`, with the choices of Yang et al. (2024,
arXiv:2406.06484): the delta-rule token mixer with SiLU + L2-normalised queries and keys,
beta = sigmoid(W_beta x), a short causal convolution of size 4, chunk size 64, inside a Llama-style
block (RMSNorm, SwiGLU). Sizes default to the paper's synthetic recall setting (Sec. 5.1: two
layers, model width 128 of its 64-512 sweep)."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from zoo.config import Config, Field


class DeltaNetConfig(Config):
    vocab_size: int = Field(8192, ge=2, le=1000000, description="tokens of the vocabulary (MQAR in Zoology: 8192)")
    d_model: int = Field(128, ge=2, le=65536, description="model width")
    num_heads: int = Field(1, ge=1, le=1024, description="heads; each keeps a (d_model/heads)^2 state matrix")
    num_layers: int = Field(2, ge=1, le=256, description="blocks (token mixer + SwiGLU MLP)")
    attention: Literal["delta", "linear"] = Field(
        "delta", description="state update: delta rule S_t = S_{t-1} - beta_t (S_{t-1} k_t - v_t) k_t^T, or the "
                             "additive linear-attention update S_t = S_{t-1} + v_t k_t^T (the baseline)")
    chunk_size: int = Field(64, ge=1, le=4096, description="positions per chunk of the chunkwise parallel form (Sec. 3.2)")
    conv_size: int = Field(4, ge=0, le=64, description="kernel of the short causal depthwise convolution on q, k, v (0: none)")
    mlp_ratio: float = Field(4.0, gt=0.0, le=64.0, description="SwiGLU hidden width = 2/3 * mlp_ratio * d_model (Llama)")

    @model_validator(mode="after")
    def _heads_divide(self) -> "DeltaNetConfig":
        if self.d_model % self.num_heads:
            raise ValueError(f"d_model={self.d_model} must be divisible by num_heads={self.num_heads}")
        return self
