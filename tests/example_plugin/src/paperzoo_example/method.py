"""The example's training method: L2-SP, an L2 penalty toward the weights a run starts from."""

from __future__ import annotations

import zoo
from zoo.config import Field
from zoo.training.method import Method, MethodConfig


class L2SPConfig(MethodConfig):
    alpha: float = Field(0.01, ge=0, description="weight of the penalty (alpha / 2) * ||w - w0||^2")


class L2SP(Method):
    """L2-SP (Li, Grandvalet & Davoine, "Explicit Inductive Bias for Transfer Learning with
    Convolutional Networks", arXiv:1802.01483): an L2 penalty toward the weights the run started
    from, instead of toward zero."""

    name = "example-l2-sp"
    Config = L2SPConfig

    def setup(self, run):
        self.start = {n: p.detach().clone() for n, p in run.model.named_parameters() if p.requires_grad}

    def loss(self, terms, output, batch, run):
        params = dict(run.model.named_parameters())
        distance = sum(((params[n] - w0) ** 2).sum() for n, w0 in self.start.items())
        return {**terms, "l2-sp": 0.5 * self.config.alpha * distance}

    def state_dict(self):  # saved in checkpoints, so a resumed run penalises toward the same start
        return {"start": self.start}

    def load_state_dict(self, state):
        for n, w0 in state["start"].items():
            self.start[n].copy_(w0)


@zoo.hookimpl
def zoo_methods():
    return [zoo.MethodSpec("example-l2-sp", L2SP)]
