"""GGMoEConfig: the typed config of `gg-moe` (Chernov, 2025, arXiv:2502.03608): a mixture of experts
for tabular data whose gate is a Gumbel-Softmax over the experts (GG MoE), after a numerical
embedding layer; `gating="softmax"` gives the standard MoE the paper also compares with."""

from __future__ import annotations

from typing import Literal

from zoo.config import Config, Field


class GGMoEConfig(Config):
    d_in: int = Field(8, ge=1, le=10000, description="numerical input features")
    d_out: int = Field(2, ge=1, le=10000, description="outputs: classes (classification) or targets (regression)")
    embedding: Literal["none", "linear-relu", "periodic"] = Field(
        "linear-relu", description="numerical embedding layer before the mixture (rtdl_num_embeddings): none, "
                                   "per-feature linear + ReLU, or periodic (PLR)")
    d_embedding: int = Field(16, ge=1, le=1024, description="embedding size per feature")
    num_experts: int = Field(16, ge=1, le=1024, description="K, experts in the mixture")
    expert_dim: int = Field(0, ge=0, le=8192,
                            description="hidden width of each expert (0: each expert is one linear layer)")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout on the experts' hidden layer")
    gating: Literal["gumbel", "softmax"] = Field(
        "gumbel", description="gumbel: Gumbel-Softmax gate (GG MoE); softmax: the standard MoE gate")
    temperature: float = Field(1.0, gt=0.0, le=100.0, description="tau of the Gumbel-Softmax gate")
    mc_samples: int = Field(10, ge=0, le=1000,
                            description="Gumbel gate draws averaged at evaluation (the paper: about 10 suffice); "
                                        "0: the noise-free softmax(logits / tau)")
