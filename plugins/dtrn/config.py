"""DTRNConfig: the typed config of `dtrn` (Liu et al., 2023, "Deep Task-specific Bottom Representation Network
for Multi-Task Recommendation"): shared field embeddings, a task-specific interest module whose extractors'
weights come from a hypernetwork of (task, behaviour type) embeddings, a SENet-like refinement network per task,
and one tower per task. Sizes are a small setting (see DOC.md, Departures)."""

from __future__ import annotations

from pydantic import field_validator, model_validator

from zoo.config import Config, Field


class DTRNConfig(Config):
    field_cardinalities: list[int] = Field(
        [500, 1000, 50, 20, 10, 5], min_length=1, max_length=1000,
        description="ids of each categorical field (ids 0..cardinality-1); set from the task")
    item_field: int = Field(1, ge=0, le=999, description="index of the candidate-item field; behaviours are its ids")
    history_types: int = Field(2, ge=1, le=64, description="behaviour sequence types (e.g. viewed, bought)")
    tasks: int = Field(2, ge=1, le=64, description="number of tasks, one logit each")
    embedding_dim: int = Field(8, ge=1, le=1024, description="d, embedding size of every field and behaviour")
    task_interest: bool = Field(
        True, description="TIM: task-specific interest extractors from the hypernetwork; False: one extractor per "
                          "behaviour type shared by the tasks")
    hyper_embedding_dim: int = Field(8, ge=1, le=1024, description="size of the task and behaviour-type embeddings "
                                                                   "the hypernetwork reads")
    hyper_hidden: list[int] = Field([32], max_length=8, description="hidden widths of the hypernetwork (ReLU)")
    refinement: bool = Field(True, description="TRM: a SENet-like reweighting of the bottom features per task")
    refinement_hidden: int = Field(4, ge=1, le=65536, description="hidden width of each task's excitation MLP")
    tower_hidden: list[int] = Field([64, 32], max_length=16, description="hidden widths of each task tower (ReLU)")

    @field_validator("field_cardinalities")
    @classmethod
    def _cardinalities(cls, values: list[int]) -> list[int]:
        if any(not 1 <= v <= 100_000_000 for v in values):
            raise ValueError(f"field_cardinalities entries must lie in 1..100000000, got {values}")
        return values

    @field_validator("hyper_hidden", "tower_hidden")
    @classmethod
    def _widths(cls, values: list[int], info) -> list[int]:
        if any(not 1 <= v <= 65536 for v in values):
            raise ValueError(f"{info.field_name} entries must lie in 1..65536, got {values}")
        return values

    @model_validator(mode="after")
    def _item_field_exists(self) -> "DTRNConfig":
        if self.item_field >= len(self.field_cardinalities):
            raise ValueError(f"item_field={self.item_field} but field_cardinalities has only "
                             f"{len(self.field_cardinalities)} fields")
        return self
