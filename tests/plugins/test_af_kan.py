"""af-kan: conformance of AF-KAN and its ReLU-KAN variant, the basis and reductions against their
equations, parameter counts, bad input, and a few training steps on digits that lower the loss."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import zoo
from zoo.errors import ConfigError
from zoo.testing import assert_conforms

DIGITS = dict(width=[64, 16, 10])


@pytest.mark.parametrize("variant", ["default", "relu-kan", "spatial-attn", "multistep"])
def test_conforms(variant):
    assert_conforms("af-kan", variant=variant, **DIGITS)


def test_relu_kan_basis_is_the_papers_bump():
    model = zoo.create("af-kan", variant="relu-kan", width=[1, 1], grid=5, k=3, norm="none")
    basis = model.layers[0].basis
    x = torch.linspace(-1, 2, 301).unsqueeze(1)
    values = basis(x)[:, 0]  # (301, g+k)
    start = torch.arange(-3, 5) / 5
    end = start + 4 / 5
    expected = (F.relu(end - x) * F.relu(x - start)) ** 2 * 16 / (end - start) ** 4
    assert torch.allclose(values, expected, atol=1e-6)
    assert torch.allclose(basis(((start + end) / 2).unsqueeze(1).expand(-1, 1))[range(8), 0, range(8)],
                          torch.ones(8), atol=1e-5)  # each bump peaks at 1 mid-way between s and e


def test_global_attention_layer_follows_the_equations():
    torch.manual_seed(0)
    model = zoo.create("af-kan", width=[5, 3])
    layer = model.layers[0]
    x = torch.rand(7, 5)
    s, e = layer.basis.start, layer.basis.end
    xe = x.unsqueeze(-1)
    values = (F.silu(xe - s) * F.silu(e - xe)) ** 2  # quad1 with SiLU
    values = (values - values.min()) / (values.max() - values.min())  # L2MM over the whole tensor
    assert values.min().item() == 0.0 and values.max().item() == pytest.approx(1.0)
    attention = torch.softmax(layer.score(values) / max(layer.temperature.item(), 1.0), dim=1)  # over inputs
    z = (values * attention).sum(-1)
    expected = F.silu(F.layer_norm(z, (5,), layer.norm.weight, layer.norm.bias)) @ layer.linear.weight.T
    assert torch.allclose(model(x), expected, atol=1e-5)
    assert layer.temperature.item() == pytest.approx(math.sqrt(5))


def test_af_kan_is_mlp_sized_and_relu_kan_is_not():
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    af_kan = zoo.create("af-kan", width=[64, 64, 10])
    relu_kan = zoo.create("af-kan", variant="relu-kan", width=[64, 64, 10])
    mlp = 64 * 64 + 64 + 64 * 10 + 10
    assert count(af_kan) < 1.1 * mlp
    # ReLU-KAN: (g + k) weights per edge, a bias per output, start/end points per input and basis, LayerNorm
    assert count(relu_kan) == sum(6 * i * o + o + 2 * 6 * i + 2 * i for i, o in [(64, 64), (64, 10)])


@pytest.mark.parametrize("bad, error, match", [
    (torch.randn(4, 63), ValueError, r"\(batch, 64\)"),
    (torch.randn(64), ValueError, r"\(batch, 64\)"),
    (torch.ones(4, 1, 8, 8, dtype=torch.long), TypeError, "floating-point"),
])
def test_bad_input_names_the_expected_shape(bad, error, match):
    with pytest.raises(error, match=match):
        zoo.create("af-kan", **DIGITS)(bad)


@pytest.mark.parametrize("config", [
    {"basis_norm": "relu-kan", "function": "sum"}, {"activation": "swish"}, {"reduction": "local_attn"},
    {"grid": 0}, {"k": -1}, {"width": [64]},
])
def test_out_of_range_configs_fail_at_create(config):
    with pytest.raises(ConfigError):
        zoo.create("af-kan", **config)


def test_digits_sizes_the_model_and_training_lowers_the_loss():
    model = zoo.create("af-kan", task="digits")
    assert model.config.width == [64, 64, 10]
    before = zoo.evaluate(model, "digits")
    zoo.train(model, "digits", epochs=2, batch_size=64, lr=1e-2, progress=False)
    after = zoo.evaluate(model, "digits")
    assert after["loss"] < 0.5 * before["loss"] and after["accuracy"] > 0.5
