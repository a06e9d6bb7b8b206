"""DINConfig: the typed config of `din`, with the defaults of Zhou et al. (2018, arXiv:1706.06978):
an activation unit of 36 hidden units (Fig. 2), an MLP of 200-80-2 (Fig. 2), Dice activations (Eq. 8), and
64-dimensional embeddings per feature field (goods, shop, category; 64 per field as in the authors' released
code, which gives items and categories 64 each)."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator

from zoo.config import Config, Field


class DINConfig(Config):
    num_goods: int = Field(2000, ge=1, le=100_000_000, description="goods ids (id 0 is reserved for padding)")
    num_shops: int = Field(200, ge=1, le=100_000_000, description="shop ids (id 0 is reserved for padding)")
    num_categories: int = Field(40, ge=1, le=10_000_000, description="category ids (id 0 is reserved for padding)")
    history_length: int = Field(30, ge=1, le=100_000, description="longest user behaviour sequence")
    embedding_dim: int = Field(64, ge=1, le=4096, description="embedding size of each feature field")
    pooling: Literal["attention", "sum"] = Field(
        "attention", description="attention: DIN's local activation unit (Eq. 3); sum: the Embedding&MLP base model")
    attention_hidden: int = Field(36, ge=1, le=65536, description="hidden units of the local activation unit (Fig. 2)")
    mlp_hidden: list[int] = Field([200, 80], description="hidden widths of the MLP before the 2-way output (Fig. 2)")
    activation: Literal["dice", "prelu"] = Field("dice", description="Dice (Eq. 8) or PReLU, in the MLP and the activation unit")
    dice_eps: float = Field(1e-8, gt=0.0, le=1.0, description="epsilon of Dice's normalisation (Eq. 8)")
    mba_lambda: float = Field(
        0.0, ge=0.0, le=100.0,
        description="mini-batch aware regularisation (Sec. 5.1, Eqs. 4-6) weight on the embeddings; 0 turns it off")

    @field_validator("mlp_hidden")
    @classmethod
    def _widths(cls, widths: list[int]) -> list[int]:
        if not widths or any(w < 1 for w in widths):
            raise ValueError(f"mlp_hidden needs at least one width >= 1, e.g. [200, 80]; got {widths}")
        return widths
