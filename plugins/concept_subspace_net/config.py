"""ConceptSubspaceNetConfig: the typed config of `concept-subspace-net` (Tucker & Shah, ICML 2022,
"Prototype Based Classification from Hierarchy to Fairness"). The defaults describe the fair
classifier of the paper's tabular experiments: two binary concepts (the label and the protected
attribute) whose subspaces are pushed to be orthogonal, in a 32-dimensional latent space with
hidden layers of 128 units and unit weights on the reconstruction and prototype losses (the
defaults of the authors' code)."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator, model_validator

from zoo.config import Config, Field


class ConceptSubspaceNetConfig(Config):
    input_dim: int = Field(8, ge=1, le=100000, description="features of each input")
    latent_dim: int = Field(32, ge=2, le=65536, description="width of the latent space the prototypes live in")
    hidden_dim: int = Field(128, ge=1, le=65536, description="width of the encoder's and decoder's hidden layers")
    concepts: list[int] = Field(
        [2, 2], min_length=1, max_length=64,
        description="classes of each concept, in order (concept 0 is the task label); one prototype per class")
    alignment: Literal["none", "orthogonal", "parallel"] = Field(
        "orthogonal", description="target relation between every pair of concept subspaces: orthogonal (fairness, "
                                  "independent concepts), parallel (hierarchy), or none")
    alignment_weight: float = Field(10.0, ge=0.0, le=1e4, description="weight of the subspace-alignment loss")
    concept_weights: list[float] = Field(
        [], max_length=64, description="weight of each concept's cross entropy (empty: 1 for every concept)")
    reconstruction_weight: float = Field(1.0, ge=0.0, le=1e4, description="weight of the decoder's reconstruction MSE")
    kl_weight: float = Field(
        1.0, ge=0.0, le=1e4, description="weight of the KL term pulling q(z | x) to a unit Gaussian at its nearest "
                                         "prototype (the variational encoder's regulariser)")
    cluster_weight: float = Field(
        1.0, ge=0.0, le=1e4, description="weight of the two prototype losses (each prototype near some encoding, "
                                          "each encoding near some prototype of its concept)")

    @field_validator("concepts")
    @classmethod
    def _classes(cls, value: list[int]) -> list[int]:
        if any(not 2 <= k <= 10000 for k in value):
            raise ValueError(f"every concept needs 2..10000 classes, got {value}")
        return value

    @model_validator(mode="after")
    def _one_weight_per_concept(self) -> "ConceptSubspaceNetConfig":
        if self.concept_weights and len(self.concept_weights) != len(self.concepts):
            raise ValueError(f"concept_weights has {len(self.concept_weights)} entries for {len(self.concepts)} "
                             f"concepts; give one per concept or none")
        if any(not 0 <= w <= 1e4 for w in self.concept_weights):
            raise ValueError(f"concept_weights must lie in [0, 10000], got {self.concept_weights}")
        return self

    def weights(self) -> list[float]:
        """The cross-entropy weight of each concept."""
        return list(self.concept_weights) or [1.0] * len(self.concepts)
