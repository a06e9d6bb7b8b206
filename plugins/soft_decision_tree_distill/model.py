"""The soft binary decision tree of Frosst & Hinton (2017), Sec. 2, as a torch module.

Inner node i (a learned filter w_i, bias b_i) sends x to its right child with probability

    p_i(x) = sigmoid(beta (x w_i + b_i))                                   (Eq. 2, with beta of Sec. 4.1)

and leaf l holds a learned distribution over the classes, Q^l = softmax(phi^l). The probability of
reaching a leaf, P^l(x), is the product of the branch probabilities on its path. Nodes are numbered
level by level (breadth first): node i's children are 2 i + 1 (left) and 2 i + 2 (right).

The forward pass returns class log-probabilities: in training mode the path-weighted mixture
log sum_l P^l(x) Q^l, in eval mode (prediction="max-path") log Q of the leaf with the greatest path
probability, the paper's test-time rule. Every forward pass keeps its routing (`routing`: path
probabilities P, inner-node probabilities p and log Q) for the losses that need them (Eq. 1, the
balancing penalty), which `soft-decision-tree-distill` reads.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .config import SoftDecisionTreeConfig

__all__ = ["SoftDecisionTree", "Routing", "path_probabilities"]


@dataclass
class Routing:
    """One forward pass's routing: path probabilities P (batch, leaves), inner-node right-branch
    probabilities p (batch, inner), reach probabilities of the inner nodes P^i (batch, inner) and the
    leaves' log-distributions log Q (leaves, classes)."""

    path: torch.Tensor
    inner: torch.Tensor
    reach: torch.Tensor
    leaf_log_probs: torch.Tensor


def path_probabilities(inner: torch.Tensor, depth: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(P^leaves, P^inner) from the right-branch probabilities p (batch, 2^depth - 1) of the inner
    nodes in breadth-first order: each level's reach probabilities times (1 - p, p) give the next's."""
    batch = inner.shape[0]
    reach = inner.new_ones(batch, 1)
    reaches = []
    for level in range(depth):
        first = 2 ** level - 1
        p = inner[:, first:first + 2 ** level]
        reaches.append(reach)
        # children of node j on this level are 2j (left) and 2j + 1 (right) on the next
        reach = torch.stack([reach * (1 - p), reach * p], dim=2).reshape(batch, 2 ** (level + 1))
    return reach, torch.cat(reaches, dim=1)


class SoftDecisionTree(nn.Module):
    """A soft decision tree of `depth` levels over flattened inputs (see the module docstring)."""

    def __init__(self, config: SoftDecisionTreeConfig | None = None, **overrides):
        super().__init__()
        config = config if config is not None else SoftDecisionTreeConfig(**overrides)
        self.config = config
        inner, leaves = 2 ** config.depth - 1, 2 ** config.depth
        self.filters = nn.Linear(config.in_features, inner)  # w_i, b_i of every inner node, one matrix
        self.leaf_logits = nn.Parameter(torch.randn(leaves, config.num_classes) * 0.1)  # phi^l
        beta = torch.tensor(float(config.inverse_temperature))
        if config.learn_temperature:
            self.log_inverse_temperature = nn.Parameter(beta.log())  # beta = exp(.) stays positive
        else:
            self.register_buffer("log_inverse_temperature", beta.log())
        self.routing: Routing | None = None

    @property
    def inverse_temperature(self) -> torch.Tensor:
        return self.log_inverse_temperature.exp()

    def route(self, x: torch.Tensor) -> Routing:
        """The routing of a batch (Eq. 2 at every inner node, path products, leaf distributions)."""
        inner = torch.sigmoid(self.inverse_temperature * self.filters(x.flatten(1)))
        path, reach = path_probabilities(inner, self.config.depth)
        return Routing(path=path, inner=inner, reach=reach, leaf_log_probs=torch.log_softmax(self.leaf_logits, dim=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        routing = self.route(x)
        self.routing = routing
        if self.training or self.config.prediction == "mixture":
            # log sum_l P^l Q^l, computed in log space
            return torch.logsumexp(routing.path.clamp_min(1e-30).log()[:, :, None] + routing.leaf_log_probs[None],
                                   dim=1)
        return routing.leaf_log_probs[routing.path.argmax(dim=1)]

    def extra_repr(self) -> str:
        return f"depth={self.config.depth}, in_features={self.config.in_features}, classes={self.config.num_classes}"
