"""Tests of the `adaround` method: the rectified sigmoid and regularizer against Eq. 23/24, the soft
weight starting at the float weight, the learned rounding staying on the grid and within one step of
the weight, lower reconstruction error than nearest, save/load of a quantized zoo model, refusals."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import zoo
from zoo.errors import ConfigError
from zoo.training.calibration import compressible_layers, fit_grid, grid_of, weight_matrix
from zoo.training.method import MethodMismatchError
from zoo_plugins.adaround.method import (AdaRoundConfig, adaround_layer, beta_at, hard_weight,
                                         initial_rounding_variable, rectified_sigmoid, rounding_regularizer,
                                         soft_weight)

FAST = {"iterations": 150, "samples": 64, "batch_size": 16}


def tiny_mixer():
    torch.manual_seed(0)
    return zoo.create("mlp-mixer", variant="digits", task="digits", hidden_dim=16, num_blocks=1)


def plain_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


def test_rectified_sigmoid_and_regularizer_follow_eq_23_and_24():
    v = torch.linspace(-8, 8, 101)
    h = rectified_sigmoid(v)
    assert torch.allclose(h, torch.clamp(torch.sigmoid(v) * 1.2 - 0.1, 0, 1))
    assert h.min() == 0 and h.max() == 1  # reached at finite V thanks to the stretch
    assert rectified_sigmoid(torch.tensor(0.0)) == 0.5
    assert rounding_regularizer(torch.tensor([0.0, 1.0, 1.0]), 2.0) == 0  # no cost once every h is 0 or 1
    assert rounding_regularizer(torch.tensor([0.5]), 2.0) == 1  # the most at h = 1/2
    # a large beta makes f_reg nearly flat (1 almost everywhere), beta 2 a parabola
    assert rounding_regularizer(torch.tensor([0.9]), 20.0) > 0.87
    assert torch.isclose(rounding_regularizer(torch.tensor([0.9]), 2.0), torch.tensor(1 - 0.8**2))


def test_beta_is_off_during_the_warmup_then_anneals_from_20_to_2():
    assert beta_at(0, 100, 0.2, 20, 2) is None and beta_at(19, 100, 0.2, 20, 2) is None
    assert beta_at(20, 100, 0.2, 20, 2) == 20
    assert beta_at(99, 100, 0.2, 20, 2) == 2
    assert 2 < beta_at(60, 100, 0.2, 20, 2) < 20


def test_soft_weight_starts_at_the_float_weight_and_the_hard_weight_is_floor_or_ceil():
    torch.manual_seed(0)
    w = torch.randn(8, 20) * 0.3
    grid = fit_grid(w, 4, search=False)
    w_floor = torch.floor(w / grid.scale)
    v = initial_rounding_variable(w, grid)
    # inside the grid's range (the rounded zero point can leave an extreme weight just outside it)
    inside = (w_floor + grid.zero >= 0) & (w_floor + grid.zero + 1 <= grid.maxq)
    assert inside.float().mean() > 0.9
    assert torch.allclose(soft_weight(w_floor, v, grid)[inside], w[inside], atol=1e-5)
    hard = hard_weight(w_floor, v, grid)
    assert grid.contains(hard)
    assert ((hard - w).abs() <= grid.scale + 1e-6).all()  # up or down: never further than one step
    # starting from the fractional part, the hard rounding is rounding to nearest
    assert torch.allclose(hard, grid.round(w), atol=1e-6)


def test_adaround_layer_lowers_the_reconstruction_error_below_nearest():
    torch.manual_seed(0)
    layer = nn.Linear(24, 12)
    x = torch.randn(256, 6) @ torch.randn(6, 24)  # correlated inputs: rounding errors can cancel
    target = layer(x).detach()
    grid = fit_grid(weight_matrix(layer), 3)
    config = AdaRoundConfig(iterations=300, batch_size=64, lr=0.05)
    quantized, report = adaround_layer(layer, grid, x, target, config, torch.Generator().manual_seed(0))
    assert grid.contains(quantized.reshape(12, -1))
    assert report.adaround_error < 0.5 * report.nearest_error
    assert 0 < report.flipped < 0.5
    w = layer.weight.detach()
    assert ((quantized - w).abs() <= grid.scale + 1e-6).all()


def test_run_quantizes_a_plain_net_on_its_grid_deterministically():
    a, b = plain_net(), plain_net()
    before = [l.weight.detach().clone() for l in compressible_layers(a).values()]
    result = zoo.method("adaround", bits=3, **FAST).run(a, "digits")
    zoo.method("adaround", bits=3, **FAST).run(b, "digits")
    for (name, layer), w0 in zip(compressible_layers(a).items(), before):
        grid = grid_of(layer)
        assert grid is not None and grid.maxq == 7
        assert grid.contains(weight_matrix(layer).detach())
        # floor or ceil of each weight: at most one grid step from rounding to nearest
        nearest = grid.round(w0.reshape(w0.shape[0], -1))
        assert ((weight_matrix(layer) - nearest).abs() <= grid.scale * 1.001).all()
        assert result.layers[name].adaround_error <= result.layers[name].nearest_error * 1.05
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert a.zoo_methods[0]["name"] == "adaround"


def test_a_quantized_zoo_model_survives_save_and_load(tmp_path):
    model = tiny_mixer()
    zoo.method("adaround", bits=4, **FAST).run(model, "digits")
    x = torch.rand(5, 1, 8, 8)
    model.eval()
    zoo.save(model, tmp_path / "q")
    config = json.loads((tmp_path / "q" / "config.json").read_text())
    assert [m["name"] for m in config["methods"]] == ["adaround"]
    loaded = zoo.load(tmp_path / "q")
    loaded.eval()
    assert torch.equal(loaded(x), model(x))
    for name, layer in compressible_layers(loaded).items():
        grid = grid_of(layer)
        assert grid is not None and grid.contains(weight_matrix(layer).detach()), name


def test_refusals():
    with pytest.raises(ConfigError, match="iterations"):
        zoo.method("adaround", iteration=10)
    with pytest.raises(ConfigError, match=r"runs on its own, not inside a training run"):
        zoo.train(plain_net(), "digits", methods=["adaround"], epochs=1, progress=False, device="cpu")
    with pytest.raises(MethodMismatchError, match="adaround.*Sequential.*Linear"):
        zoo.method("adaround").run(nn.Sequential(nn.Flatten(), nn.LayerNorm(64)), "digits")
    with pytest.raises(MethodMismatchError, match="skip"):
        zoo.method("adaround", skip=["*"]).run(plain_net(), "digits")
