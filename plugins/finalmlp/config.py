"""FinalMLPConfig: the typed config of `finalmlp` (Mao et al., AAAI 2023, arXiv:2304.00902): field embeddings,
stream-specific feature gating (Sec. 3.2: g_i = 2 sigmoid(MLP(context_i))), two MLP streams of different
sizes, and multi-head bilinear interaction aggregation (Sec. 3.3). The defaults are the shape of the authors'
released Criteo setting as far as we know it (three 400-unit layers against one 800-unit layer, gate hidden
800); see DOC.md, Departures."""

from __future__ import annotations

from pydantic import field_validator, model_validator

from zoo.config import Config, Field


class FinalMLPConfig(Config):
    field_cardinalities: list[int] = Field(
        [100] * 8, min_length=2, max_length=1000,
        description="number of ids of each categorical field (ids 0..cardinality-1); set from the task")
    embedding_dim: int = Field(10, ge=1, le=1024, description="embedding size of every field")
    stream1_hidden: list[int] = Field([400, 400, 400], min_length=1, max_length=16,
                                      description="hidden widths of MLP stream 1 (its last width is o_1's size)")
    stream2_hidden: list[int] = Field([800], min_length=1, max_length=16,
                                      description="hidden widths of MLP stream 2 (its last width is o_2's size)")
    feature_selection: bool = Field(True, description="stream-specific feature gating (Sec. 3.2); False feeds e to both")
    gate_hidden: list[int] = Field([800], min_length=1, max_length=8,
                                   description="hidden widths of each gate's MLP (ReLU), before 2 x sigmoid")
    gate1_context: list[int] = Field(
        [], max_length=1000,
        description="fields whose embeddings condition stream 1's gate; empty: a learnable vector (no context)")
    gate2_context: list[int] = Field(
        [], max_length=1000,
        description="fields whose embeddings condition stream 2's gate; empty: a learnable vector (no context)")
    heads: int = Field(10, ge=1, le=4096, description="k, heads of the bilinear aggregation; must divide both "
                                                      "streams' output widths")
    aggregation: bool = Field(True, description="multi-head bilinear aggregation (Sec. 3.3); False: a linear layer "
                                                "on [o_1, o_2] (the plain two-stream MLP)")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout after each hidden layer of the streams")
    batch_norm: bool = Field(False, description="batch normalisation after each hidden linear layer of the streams")

    @field_validator("field_cardinalities")
    @classmethod
    def _cardinalities(cls, values: list[int]) -> list[int]:
        if any(not 1 <= v <= 100_000_000 for v in values):
            raise ValueError(f"field_cardinalities entries must lie in 1..100000000, got {values}")
        return values

    @field_validator("stream1_hidden", "stream2_hidden", "gate_hidden")
    @classmethod
    def _widths(cls, values: list[int], info) -> list[int]:
        if any(not 1 <= v <= 65536 for v in values):
            raise ValueError(f"{info.field_name} entries must lie in 1..65536, got {values}")
        return values

    @model_validator(mode="after")
    def _consistent(self) -> "FinalMLPConfig":
        fields = len(self.field_cardinalities)
        for name in ("gate1_context", "gate2_context"):
            bad = [f for f in getattr(self, name) if not 0 <= f < fields]
            if bad:
                raise ValueError(f"{name} lists fields {bad}; expected indices in 0..{fields - 1} (field_cardinalities "
                                 f"has {fields} fields)")
        o1, o2 = self.stream1_hidden[-1], self.stream2_hidden[-1]
        if self.aggregation and (o1 % self.heads or o2 % self.heads):
            raise ValueError(f"heads={self.heads} must divide both stream output widths (stream1_hidden[-1]={o1}, "
                             f"stream2_hidden[-1]={o2})")
        return self
