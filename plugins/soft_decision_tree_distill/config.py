"""SoftDecisionTreeConfig: the typed config of `soft-decision-tree`, with the defaults of Frosst &
Hinton (2017, arXiv:1711.09784): depth 8 (the paper's MNIST tree), MNIST-sized input."""

from __future__ import annotations

from typing import Literal

from zoo.config import Config, Field


class SoftDecisionTreeConfig(Config):
    in_features: int = Field(784, ge=1, le=1000000, description="input features (images are flattened)")
    num_classes: int = Field(10, ge=2, le=100000, description="classes: the size of each leaf's distribution Q")
    depth: int = Field(8, ge=1, le=16, description="levels of inner nodes: 2^depth - 1 inner nodes (filters) and "
                                                   "2^depth leaves (the paper's MNIST tree has depth 8)")
    inverse_temperature: float = Field(1.0, gt=0, description="initial beta of p_i(x) = sigmoid(beta (x w_i + b_i)), "
                                                              "which sharpens the decisions")
    learn_temperature: bool = Field(True, description="learn beta (one scalar for the tree) with the filters")
    prediction: Literal["max-path", "mixture"] = Field(
        "max-path", description="output in eval mode: the distribution of the leaf with the greatest path probability "
                                "(the paper's test-time rule) or the path-weighted mixture of all leaves; in training "
                                "mode the output is always the mixture (differentiable)")
