"""Every first-party training method passes the conformance kit third parties use
(zoo.testing.assert_method_conforms): documented options, JSON round trip, fit, exact resume of the
model and the method's state, save and load of structural methods."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import zoo
from zoo.testing import assert_method_conforms

FAST = {"epochs": 2, "batch_size": 128, "final_splits": [], "eval_splits": []}


def tiny_mixer():
    torch.manual_seed(0)
    return zoo.create("mlp-mixer", variant="digits", task="digits", hidden_dim=16, num_blocks=2)


class TwoHeads(nn.Module):
    """A shared trunk with an angle head and a digit head, for the multi-task task."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.trunk = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU())
        self.angle, self.digit = nn.Linear(16, 1), nn.Linear(16, 10)

    def forward(self, x):
        shared = self.trunk(x)
        return torch.cat([self.angle(shared), self.digit(shared)], -1)


def teacher():
    torch.manual_seed(1)
    return zoo.create("mlp-mixer", variant="digits", task="digits", hidden_dim=16, num_blocks=2).eval()


def mlp(activation=nn.ReLU, outputs: int = 10, seed: int = 0):
    """A plain two-hidden-layer chain: what layer-local learning rules and fusion act on."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), activation(), nn.Linear(16, 16), activation(),
                         nn.Linear(16, outputs))


def seeded(make, *args, **kwargs):
    """A model factory that gives the same initial weights on every call (the kit compares runs)."""
    def fresh():
        torch.manual_seed(0)
        return make(*args, **kwargs)
    return fresh


CASES = {
    "dorefa": (tiny_mixer, "digits", {}),
    "lottery-ticket": (tiny_mixer, "digits", {}),
    "deeply-supervised-nets": (tiny_mixer, "digits", {}),
    "fgsm-adv-training": (tiny_mixer, "digits", {}),
    "ewc": (tiny_mixer, "digits", {}),
    "fitnets": (tiny_mixer, "digits", {"teacher": "TEACHER"}),
    "uncertainty-loss-weighting": (TwoHeads, "multitask/rotated-digits", {}),
    "novograd": (tiny_mixer, "digits", {}),
    "ranger21": (tiny_mixer, "digits", {}),
    "gradient-noise": (tiny_mixer, "digits", {}),
    "dfa": (lambda: mlp(nn.Tanh), "digits", {}),
    "mono-forward": (mlp, "digits", {}),
    "collaborative-ff": (seeded(zoo.create, "ff-mlp", variant="digits", hidden=[16, 16]), "digits", {}),
    "noprop": (seeded(zoo.create, "noprop-dt", variant="digits", task="digits", num_blocks=2, hidden=8), "digits", {}),
    "directpred": (lambda: mlp(outputs=12), "UNLABELED_DIGITS", {}),
    "lth-rewinding": (tiny_mixer, "digits", {}),
    "structured-sparsity-learning": (tiny_mixer, "digits", {}),
    "sparse-evolutionary-training": (tiny_mixer, "digits", {}),
    "optimal-brain-compression": (tiny_mixer, "digits", {"sparsity": 0.5}),
    "adaround": (tiny_mixer, "digits", {}),
    "quantized-distillation": (tiny_mixer, "digits", {"teacher": "TEACHER"}),
    "soft-decision-tree-distill": (seeded(zoo.create, "soft-decision-tree", variant="digits", depth=2), "digits",
                                   {"teacher": "TEACHER"}),
    "ot-model-fusion": (mlp, "digits", {"other": "OTHER"}),
    "group-dro": (lambda: mlp(outputs=2), "groups/spurious-digits", {}),
    "multistage-nn": (seeded(zoo.create, "multistage-net", stages=2), "toy/bessel-j0", {}),
    "gnn-symbolic-distill": (seeded(zoo.create, "nbody-gn", task="nbody/spring", hidden=16, layers=1, message_dim=8),
                             "nbody/spring", {}),
}
OBJECTS = {"TEACHER": teacher, "OTHER": lambda: mlp(seed=1)}


def test_every_first_party_method_has_a_case():
    first_party = [m for m in zoo.list_methods() if zoo.method_info(m).source.startswith("paperzoo ")]
    assert sorted(first_party) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_first_party_method_conforms(name):
    make_model, task, options = CASES[name]
    options = {k: OBJECTS[v]() if v in OBJECTS else v for k, v in options.items()}
    if task == "UNLABELED_DIGITS":  # directpred learns without labels: its plugin wraps a task as such
        from zoo_plugins.directpred import unlabeled

        task = unlabeled("digits")
    assert_method_conforms(name, make_model, task, train_options=FAST, **options)
