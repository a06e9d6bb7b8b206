"""Tests of structured-sparsity-learning: group norms and the group Lasso term (Eq. 2-4), removal of
vanished structures, the loss term in zoo.train, exact resume, and refused input."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import zoo
from zoo.errors import ConfigError
from zoo.training.method import MethodMismatchError
from zoo_plugins.structured_sparsity_learning.method import (
    group_lasso, group_norms, ssl_layers, structure_report, zero_small_groups)

SLUG = "structured-sparsity-learning"
FAST = {"batch_size": 64, "progress": False, "device": "cpu", "eval_splits": [], "final_splits": [],
        "optimizer": "sgd", "lr": 0.05, "momentum": 0.9}


def small_cnn(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 3, padding=1),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(24, 10))


def test_group_norms_follow_the_paper_groups():
    w = torch.randn(5, 3, 2, 2)
    assert torch.allclose(group_norms(w, "filter"), torch.stack([w[n].norm() for n in range(5)]))
    assert torch.allclose(group_norms(w, "channel"), torch.stack([w[:, c].norm() for c in range(3)]))
    shapes = torch.stack([w[:, c, h, k].norm() for c in range(3) for h in range(2) for k in range(2)])
    assert torch.allclose(group_norms(w, "shape"), shapes)
    assert torch.allclose(group_norms(w, "depth"), w.norm().view(1))
    lin = torch.randn(4, 7)
    assert torch.allclose(group_norms(lin, "filter"), lin.norm(dim=1))
    assert torch.allclose(group_norms(lin, "channel"), lin.norm(dim=0))
    assert group_norms(lin, "shape") is None


def test_group_lasso_is_the_weighted_sum_of_norms_and_zero_at_zero():
    model = small_cnn()
    layers = ssl_layers(model)
    expected = sum(0.1 * group_norms(m.weight, "filter").sum() + 0.2 * group_norms(m.weight, "channel").sum()
                   for m in layers.values())
    assert torch.allclose(group_lasso(layers, {"filter": 0.1, "channel": 0.2}), expected)
    with torch.no_grad():
        for m in layers.values():
            m.weight.zero_()
    assert float(group_lasso(layers, {"filter": 0.1, "channel": 0.2}).detach()) == 0.0


def test_zero_small_groups_removes_exactly_the_small_structures():
    model = small_cnn()
    conv = model[3]
    with torch.no_grad():
        conv.weight[2] *= 1e-5  # filter 2 has vanished
        conv.weight[:, 1] *= 1e-5  # and input channel 1
    before = conv.weight.detach().clone()
    report = zero_small_groups(model, threshold=1e-3, groups=("filter", "channel"))
    assert report["3"]["filter"] == [1, 6] and report["3"]["channel"] == [1, 4]
    assert bool((conv.weight[2] == 0).all()) and bool((conv.weight[:, 1] == 0).all())
    keep = torch.ones_like(before, dtype=torch.bool)
    keep[2], keep[:, 1] = False, False
    assert torch.equal(conv.weight[keep], before[keep])  # nothing else touched
    assert structure_report(model)["0"]["filter"] == [0, 4]


def test_training_adds_the_term_and_shrinks_groups():
    seen = []

    class Terms:
        def zoo_train_batch_end(self, run, logs):
            seen.append(set(logs))

    plain, regularised = small_cnn(), small_cnn()
    zoo.train(plain, "digits", epochs=2, seed=0, **FAST)
    zoo.train(regularised, "digits", methods=[zoo.method(SLUG, lambda_filter=0.05, lambda_channel=0.05)], epochs=2,
              seed=0, callbacks=[Terms()], **FAST)
    assert seen and all({"loss/task", "loss/group_lasso"} <= s for s in seen)
    norm = lambda m: float(group_lasso(ssl_layers(m), {"filter": 1.0, "channel": 1.0}).detach())  # noqa: E731
    assert norm(regularised) < norm(plain)


def test_acts_on_a_zoo_model_and_a_plain_module_and_resumes_exactly(tmp_path):
    from zoo.testing import assert_method_conforms

    def tiny_mixer():
        torch.manual_seed(0)
        return zoo.create("mlp-mixer", variant="digits", task="digits", hidden_dim=16, num_blocks=1)

    assert_method_conforms(SLUG, tiny_mixer, "digits", train_options={"epochs": 2, "batch_size": 64})
    whole = small_cnn()
    zoo.train(whole, "digits", methods=[SLUG], epochs=2, seed=1, **FAST)
    zoo.train(small_cnn(), "digits", methods=[SLUG], epochs=1, seed=1, out_dir=tmp_path / "run", **FAST)
    resumed = small_cnn(seed=5)
    zoo.train(resumed, "digits", methods=[SLUG], epochs=2, seed=1, out_dir=tmp_path / "run", resume=True, **FAST)
    a, b = whole.state_dict(), resumed.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


class NoLayers(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(64, 10))

    def forward(self, x):
        return x.flatten(1) @ self.scale


def test_bad_input_is_refused():
    with pytest.raises(ConfigError, match="lambda_filter"):
        zoo.method(SLUG, lambda_filtr=0.1)
    with pytest.raises(ConfigError):
        zoo.method(SLUG, groups=["rows"])
    with pytest.raises(MethodMismatchError, match=r"structured-sparsity-learning.*NoLayers.*Conv2d"):
        zoo.train(NoLayers(), "digits", methods=[SLUG], epochs=1, **FAST)
    with pytest.raises(MethodMismatchError, match="'fc9' is not a module"):
        zoo.train(small_cnn(), "digits", methods=[zoo.method(SLUG, layers=["fc9"])], epochs=1, **FAST)
