"""GatedPerceptronConfig: the typed config of `gated-perceptron`. Defaults follow "More
Consideration for the Perceptron" (Larabi, 2024, arXiv:2409.13854): one unit per class (a single
unit for two classes) over the inputs plus one extra input, the product of all inputs; the gate
can be switched off to give the plain perceptron the paper compares against."""

from __future__ import annotations

from typing import Literal

from zoo.config import Config, Field


class GatedPerceptronConfig(Config):
    in_features: int = Field(2, ge=1, le=4096, description="d: number of input features x_1..x_d")
    num_classes: int = Field(2, ge=2, le=1000,
                             description="classes; 2 gives one unit whose logit z makes p(class 1) = sigmoid(z)")
    gate: bool = Field(True, description="add the gated input x_1 * x_2 * ... * x_d with its own weight "
                                         "(False: the plain perceptron)")
    criterion: Literal["cross-entropy", "perceptron"] = Field(
        "cross-entropy",
        description="training loss: the task's cross entropy (sigmoid / softmax unit), or the perceptron criterion "
                    "max_j z_j - z_y, whose gradient step is Rosenblatt's rule (update only on mistakes)")
