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


CASES = {
    "dorefa": (tiny_mixer, "digits", {}),
    "lottery-ticket": (tiny_mixer, "digits", {}),
    "deeply-supervised-nets": (tiny_mixer, "digits", {}),
    "fgsm-adv-training": (tiny_mixer, "digits", {}),
    "ewc": (tiny_mixer, "digits", {}),
    "fitnets": (tiny_mixer, "digits", {"teacher": "TEACHER"}),
    "uncertainty-loss-weighting": (TwoHeads, "multitask/rotated-digits", {}),
}


def test_every_first_party_method_has_a_case():
    first_party = [m for m in zoo.list_methods() if zoo.method_info(m).source.startswith("paperzoo ")]
    assert sorted(first_party) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_first_party_method_conforms(name):
    make_model, task, options = CASES[name]
    options = {k: teacher() if v == "TEACHER" else v for k, v in options.items()}
    assert_method_conforms(name, make_model, task, train_options=FAST, **options)
