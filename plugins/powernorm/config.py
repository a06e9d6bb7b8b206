"""PowerNormTransformerConfig: the typed config of `powernorm`, a transformer encoder classifier
whose normalisation layer is PowerNorm, LayerNorm or BatchNorm (arXiv:2003.07845).

Defaults are the paper's IWSLT14 transformer encoder (fairseq's transformer_iwslt_de_en: width 512,
6 layers, 4 heads, FFN 1024, dropout 0.3, post-norm) with PowerNorm; moving-average factors 0.9 and
eps 1e-5 as in the authors' code; the warmup length (4000 steps, the learning-rate warmup of the
usual fairseq IWSLT14 recipe) is our choice, see DOC.md. The input side (tokens or real values) and the output side (one
label per position, or one per sequence) are sized from a task.
"""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from zoo.config import Config, Field


class PowerNormTransformerConfig(Config):
    vocab_size: int = Field(0, ge=0, le=1_000_000,
                            description="input token vocabulary; 0: inputs are real-valued vectors of in_features")
    in_features: int = Field(1, ge=1, le=65_536, description="features per position when vocab_size is 0")
    num_classes: int = Field(10, ge=1, le=1_000_000, description="output classes (per position or per sequence)")
    per_position: bool = Field(True, description="one prediction per position (True) or one per sequence, from "
                                                 "the mean over positions (False)")
    max_len: int = Field(1024, ge=1, le=65_536, description="longest sequence (sinusoidal positions up to it)")
    d_model: int = Field(512, ge=1, le=65_536, description="model width")
    num_layers: int = Field(6, ge=1, le=128, description="encoder layers")
    num_heads: int = Field(4, ge=1, le=256, description="attention heads; must divide d_model")
    ffn_dim: int = Field(1024, ge=1, le=262_144, description="hidden width of the ReLU feed-forward block")
    dropout: float = Field(0.3, ge=0.0, lt=1.0, description="dropout on attention and feed-forward outputs")
    norm_first: bool = Field(False, description="pre-norm (True) or the paper's post-norm transformer (False)")
    norm: Literal["powernorm", "layernorm", "batchnorm"] = Field(
        "powernorm", description="normalisation after every sublayer: PowerNorm (Algorithm 1), LayerNorm or "
                                 "BatchNorm over all tokens of the batch")
    alpha_fwd: float = Field(0.9, ge=0.0, lt=1.0, description="PowerNorm: moving-average factor alpha of the "
                                                              "running quadratic mean psi^2")
    alpha_bkw: float = Field(0.9, ge=0.0, lt=1.0, description="PowerNorm: moving-average factor of the backward "
                                                              "gradient statistic nu")
    warmup_iters: int = Field(4000, ge=0, le=10_000_000, description="PowerNorm: training steps that normalise "
                                                                     "by the batch quadratic mean before the "
                                                                     "running one takes over")
    eps: float = Field(1e-5, gt=0.0, le=1.0, description="added to every quadratic mean or variance")

    @model_validator(mode="after")
    def _heads_divide_width(self) -> "PowerNormTransformerConfig":
        if self.d_model % self.num_heads:
            raise ValueError(f"num_heads={self.num_heads} must divide d_model={self.d_model}")
        return self
