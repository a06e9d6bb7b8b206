"""ExcelFormerConfig: the typed config of `excelformer` (Chen et al., ExcelFormer: Can a DNN be a
Sure Bet for Tabular Prediction?, 2023), with the paper's fixed (untuned) settings:
embedding size 256, 3 layers, 32 heads, interaction-attenuated initialisation (gamma 1e-4) and
Hidden-Mix with Beta(0.5, 0.5)."""

from __future__ import annotations

from typing import Literal

from zoo.config import Config, Field


class ExcelFormerConfig(Config):
    d_in: int = Field(8, ge=1, le=2048, description="numerical input features (tokens after embedding)")
    d_out: int = Field(2, ge=1, le=10000, description="outputs: classes (classification) or targets (regression)")
    d_token: int = Field(256, ge=2, le=2048, description="d: embedding size of each feature")
    n_layers: int = Field(3, ge=1, le=32, description="L: SPA + AiFFN layers")
    n_heads: int = Field(32, ge=1, le=256, description="attention heads of the semi-permeable attention")
    attention_dropout: float = Field(0.3, ge=0.0, lt=1.0, description="dropout on the attention probabilities")
    ffn_dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout on the AiFFN output")
    residual_dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout on each residual branch")
    init_attenuation: float = Field(
        1e-4, gt=0.0, le=1.0,
        description="gamma of the interaction-attenuated initialisation: SPA and AiFFN weights start at gamma "
                    "times their He initialisation, so the model starts nearly free of feature interactions")
    semi_permeable: bool = Field(True, description="mask attention so a feature attends only to features at least as "
                                                   "informative (False: full attention, an ablation)")
    mix_type: Literal["hidden", "feat", "none"] = Field(
        "hidden", description="training augmentation: Hidden-Mix (embedding dimensions), Feat-Mix (features, labels "
                              "weighted by mutual information) or none")
    mix_alpha: float = Field(0.5, gt=0.0, le=100.0, description="alpha of the Beta(alpha, alpha) mixing proportion")
    mixed_share: float = Field(
        1.0, ge=0.0, le=1.0, description="share of training batches that are mixed (the rest train unmixed)")
