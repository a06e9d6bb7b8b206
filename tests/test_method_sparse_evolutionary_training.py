"""Tests of sparse-evolutionary-training: Erdos-Renyi masks, the evolution step, sparsity in training,
exact resume, save/load, and refused input."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import zoo
from zoo.errors import ConfigError
from zoo.training.method import Method, MethodConflictError, MethodMismatchError
from zoo_plugins.sparse_evolutionary_training.method import (
    active_parameters, attach_erdos_renyi_masks, clear_optimizer_state, erdos_renyi_density, evolve, masked_layers,
    sparse_layers)

FAST = {"batch_size": 64, "progress": False, "device": "cpu", "eval_splits": [], "final_splits": [],
        "optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 2e-4}
SLUG = "sparse-evolutionary-training"


def mlp(seed: int = 0, hidden: int = 60) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, 10))


def tiny_mixer(seed: int = 0):
    torch.manual_seed(seed)
    return zoo.create("mlp-mixer", variant="digits", task="digits", hidden_dim=16, num_blocks=1)


def absent_are_zero(model) -> bool:
    return all(bool((m.weight_orig[m.weight_mask == 0] == 0).all()) for m in masked_layers(model).values())


def test_erdos_renyi_density_and_masks():
    assert erdos_renyi_density(1000, 1000, 20) == pytest.approx(0.04)
    assert erdos_renyi_density(64, 10, 20) == 1.0  # capped: a small layer stays dense
    model = nn.Sequential(nn.Linear(400, 500), nn.Linear(500, 10))
    layers = sparse_layers(model)
    assert list(layers) == ["0"]  # the output layer stays dense by default
    attach_erdos_renyi_masks(model, layers, 20.0, generator=torch.Generator().manual_seed(0))
    mask = model[0].weight_mask
    expected = erdos_renyi_density(400, 500, 20) * mask.numel()
    assert abs(float(mask.sum()) - expected) < 4 * expected ** 0.5  # Bernoulli draw: within 4 sigma
    assert absent_are_zero(model)
    assert active_parameters(model) == int(mask.sum()) + 500 + 500 * 10 + 10


def test_evolve_removes_the_paper_fraction_and_keeps_the_count():
    layer = nn.Linear(50, 40)
    attach_erdos_renyi_masks(nn.Sequential(layer), {"0": layer}, 5.0, init_std=0.1,
                             generator=torch.Generator().manual_seed(1))
    before_mask = layer.weight_mask.clone()
    w = layer.weight_orig.detach().clone()
    active = w[before_mask.bool()]
    pos, neg = active[active > 0], active[active < 0]
    k_pos, k_neg = int(0.3 * pos.numel()), int(0.3 * neg.numel())
    changed = evolve(layer, 0.3, torch.Generator().manual_seed(2))
    after, now = layer.weight_mask, layer.weight_orig.detach()
    assert int(after.sum()) == int(before_mask.sum())  # as many added as removed
    pos_cut, neg_cut = pos.sort().values[k_pos - 1], neg.sort().values[-k_neg]
    cut = (before_mask == 1) & (((w > 0) & (w <= pos_cut)) | ((w < 0) & (w >= neg_cut)))
    assert int(cut.sum()) == k_pos + k_neg  # the smallest positive and largest negative zeta of each sign
    survivors = (before_mask == 1) & ~cut
    assert bool((after[survivors] == 1).all()) and torch.equal(now[survivors], w[survivors])  # untouched
    assert bool((now[cut] == 0).all())  # removed (or re-added at zero)
    added = (before_mask == 0) & (after == 1)
    assert int(added.sum()) > 0 and bool((now[added] == 0).all())  # new connections start at zero
    assert absent_are_zero(nn.Sequential(layer))
    assert torch.equal(changed, before_mask != after)


def test_clear_optimizer_state_zeroes_only_changed_entries():
    p = nn.Parameter(torch.ones(3, 4))
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = torch.ones_like(p)
    opt.step()
    changed = torch.zeros(3, 4, dtype=torch.bool)
    changed[0, 1] = changed[2, 3] = True
    clear_optimizer_state(opt, p, changed)
    buf = opt.state[p]["momentum_buffer"]
    assert bool((buf[changed] == 0).all()) and bool((buf[~changed] == 1).all())


class StepWatch:
    def __init__(self, model):
        self.model, self.bad, self.counts = model, 0, set()

    def zoo_train_batch_end(self, run, logs):
        self.bad += not absent_are_zero(self.model)
        self.counts.add(tuple(int(m.weight_mask.sum()) for m in masked_layers(self.model).values()))


def test_training_keeps_sparsity_and_evolves_each_epoch():
    model = mlp()
    watch = StepWatch(model)
    method = zoo.method(SLUG)
    zoo.train(model, "digits", methods=[method], epochs=3, callbacks=[watch], **FAST)
    assert watch.bad == 0 and len(watch.counts) == 1  # sparse after every step, count constant
    assert len(method.rewired) == 2  # after epochs 1 and 2, not after the last
    assert all(n > 0 for counts in method.rewired for n in counts.values())
    assert set(masked_layers(model)) == {"1", "3"}


def test_exact_resume(tmp_path):
    whole = mlp()
    whole_method = zoo.method(SLUG, regrow_init="normal")
    zoo.train(whole, "digits", methods=[whole_method], epochs=3, seed=4, **FAST)
    zoo.train(mlp(), "digits", methods=[zoo.method(SLUG, regrow_init="normal")], epochs=2, seed=4,
              out_dir=tmp_path / "run", **FAST)
    resumed, resumed_method = mlp(seed=9), zoo.method(SLUG, regrow_init="normal")
    zoo.train(resumed, "digits", methods=[resumed_method], epochs=3, seed=4, out_dir=tmp_path / "run", resume=True,
              **FAST)
    a, b = whole.state_dict(), resumed.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert torch.equal(whole_method.state_dict()["generator"], resumed_method.state_dict()["generator"])


def test_conforms_on_a_zoo_model_and_save_load(tmp_path):
    from zoo.testing import assert_method_conforms

    assert_method_conforms(SLUG, tiny_mixer, "digits", train_options={"epochs": 2, "batch_size": 64})
    model = tiny_mixer()
    zoo.train(model, "digits", methods=[zoo.method(SLUG, epsilon=2.0)], epochs=2, **FAST)
    assert active_parameters(model) < sum(p.numel() for p in model.parameters())
    folder = zoo.save(model, tmp_path / "set")
    config = json.loads((folder / "config.json").read_text())
    assert [m["name"] for m in config["methods"]] == [SLUG]
    back = zoo.load(folder)
    x = torch.rand(4, 1, 8, 8)
    assert torch.equal(model.eval()(x), back.eval()(x))
    assert all(torch.equal(masked_layers(model)[k].weight_mask, v.weight_mask) for k, v in masked_layers(back).items())


class NoLinear(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(64, 10))

    def forward(self, x):
        return x.flatten(1) @ self.scale


class FakeLotteryTicket(Method):
    name = "lottery-ticket"


def test_bad_input_is_refused():
    with pytest.raises(ConfigError, match="zeta"):
        zoo.method(SLUG, zet=0.3)
    with pytest.raises(ConfigError):
        zoo.method(SLUG, zeta=1.0)
    with pytest.raises(MethodMismatchError, match=r"sparse-evolutionary-training.*NoLinear.*Linear"):
        zoo.train(NoLinear(), "digits", methods=[SLUG], epochs=1, **FAST)
    with pytest.raises(MethodMismatchError, match="'fc9' is not a module"):
        zoo.train(mlp(), "digits", methods=[zoo.method(SLUG, layers=["fc9"])], epochs=1, **FAST)
    with pytest.raises(MethodConflictError, match="lottery-ticket"):
        zoo.train(mlp(), "digits", methods=[zoo.method(SLUG), FakeLotteryTicket()], epochs=1, **FAST)
