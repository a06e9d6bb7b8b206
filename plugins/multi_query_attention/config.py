"""MQAConfig: the typed config of `multi-query-attention`, with the defaults of Shazeer (2019,
arXiv:1911.02150), Sec. 4: d_model 1024, h = 8 heads of d_k = d_v = 128, d_ff 4096, 6 layers; the
`mqa` variant shares one key/value head and widens d_ff to keep the parameter count."""

from __future__ import annotations

from pydantic import model_validator

from zoo.config import Config, Field


class MQAConfig(Config):
    vocab_size: int = Field(32000, ge=2, le=1000000, description="tokens of the vocabulary (input and output)")
    d_model: int = Field(1024, ge=2, le=65536, description="model width d")
    num_heads: int = Field(8, ge=1, le=1024, description="query heads h (d_k = d_v = d_model / h)")
    kv_heads: int = Field(
        8, ge=1, le=1024,
        description="key/value heads: num_heads is multi-head attention, 1 is multi-query attention "
                    "(values in between share each key/value head among num_heads / kv_heads query heads)")
    num_layers: int = Field(6, ge=1, le=256, description="decoder layers (self-attention + feed-forward)")
    d_ff: int = Field(4096, ge=1, le=1000000, description="hidden width of the feed-forward layers")
    dropout: float = Field(0.1, ge=0.0, lt=1.0, description="dropout on sub-layer outputs and embeddings (Transformer base)")

    @model_validator(mode="after")
    def _heads_divide(self) -> "MQAConfig":
        if self.d_model % self.num_heads:
            raise ValueError(f"d_model={self.d_model} must be divisible by num_heads={self.num_heads}")
        if self.kv_heads > self.num_heads or self.num_heads % self.kv_heads:
            raise ValueError(f"kv_heads={self.kv_heads} must divide num_heads={self.num_heads}")
        return self


def parameter_matched_d_ff(d_ff: int, d_model: int, num_heads: int, kv_heads: int) -> int:
    """d_ff that gives a model with `kv_heads` key/value heads the parameters of the multi-head one:
    each layer drops 2 d_model (num_heads - kv_heads) d_k key/value weights, and each extra hidden
    unit of the feed-forward layer adds 2 d_model weights (plus one bias, neglected as the paper does)."""
    head_dim = d_model // num_heads
    return d_ff + (num_heads - kv_heads) * head_dim
