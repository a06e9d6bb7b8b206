"""TabMConfig: the typed config of `tabm`, with the defaults of the paper and of its official
package (arXiv:2410.24210; `tabm.TabM.make`). d_in and d_out default to the breast-cancer table
and are normally set from the task."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from zoo.config import Config, Field


class TabMConfig(Config):
    d_in: int = Field(30, ge=1, le=1_000_000, description="numerical input features (set from the task)")
    d_out: int = Field(2, ge=1, le=100_000, description="outputs per member: classes, or regression targets (set from the task)")
    k: int = Field(32, ge=1, le=1024, description="ensemble size: predictions made per object (paper: 32)")
    arch_type: Literal["tabm", "tabm-mini", "tabm-packed"] = Field(
        "tabm", description="tabm: BatchEnsemble adapters in every layer; tabm-mini: one adapter at the input; "
                            "tabm-packed: k independent MLPs (no sharing)")
    n_blocks: int = Field(3, ge=1, le=64, description="hidden layers of every MLP")
    d_block: int = Field(512, ge=1, le=65_536, description="width of every hidden layer")
    dropout: float = Field(0.1, ge=0.0, lt=1.0, description="dropout after every hidden layer")
    activation: Literal["ReLU", "GELU", "SiLU"] = Field("ReLU", description="activation after every hidden linear layer")
    start_scaling_init: Literal["random-signs", "normal"] | None = Field(
        "random-signs", description="init of the first (input) adapter, which makes the members differ; "
                                    "None for tabm-packed, whose members differ by their own weights")

    @model_validator(mode="after")
    def _adapter_matches_arch(self) -> "TabMConfig":
        packed = self.arch_type == "tabm-packed"
        if packed and self.start_scaling_init is not None:
            raise ValueError(f"arch_type='tabm-packed' has no adapters: set start_scaling_init=None, "
                             f"got {self.start_scaling_init!r}")
        if not packed and self.start_scaling_init is None:
            raise ValueError(f"arch_type={self.arch_type!r} needs start_scaling_init ('random-signs' or 'normal')")
        return self
