"""xnet: conformance, the Cauchy activation's formula and shape, bad input, task sizing, and a few
training steps that lower the loss."""

from __future__ import annotations

import pytest
import torch

import zoo
from zoo.errors import ConfigError
from zoo.testing import assert_conforms
from zoo_plugins.xnet.model import CauchyActivation


def test_conforms_default_and_deep():
    assert_conforms("xnet")
    assert_conforms("xnet", variant="deep")


def test_cauchy_activation_is_the_real_form_of_a_cauchy_kernel():
    act = CauchyActivation(3, lambda1=0.5, lambda2=-2.0, d=0.3)
    with torch.no_grad():
        act.d[1] = 1.5
    z = torch.linspace(-4, 4, 81).unsqueeze(1).expand(-1, 3)
    d = torch.tensor([0.3, 1.5, 0.3])
    expected = 0.5 * z / (z ** 2 + d ** 2) - 2.0 / (z ** 2 + d ** 2)
    assert torch.allclose(act(z), expected, atol=1e-6)
    # = lambda1 Re + (lambda2 / d) Im of the Cauchy kernel 1 / (z - i d)
    kernel = 1 / (z.to(torch.complex64) - 1j * d)
    assert torch.allclose(act(z), 0.5 * kernel.real - 2.0 / d * kernel.imag, atol=1e-5)
    # localised: decays at both ends
    far = act(torch.full((1, 3), 1e4))
    assert far.abs().max() < 1e-3


def test_network_is_linear_cauchy_linear():
    torch.manual_seed(0)
    model = zoo.create("xnet", width=[2, 7, 3])
    x = torch.randn(5, 2)
    hidden_linear, act = model.hidden
    z = x @ hidden_linear.weight.T + hidden_linear.bias
    h = (act.lambda1 * z + act.lambda2) / (z ** 2 + act.d ** 2)
    assert torch.allclose(model(x), h @ model.readout.weight.T + model.readout.bias, atol=1e-6)
    assert sum(p.numel() for p in model.parameters()) == 2 * 7 + 7 + 3 * 7 + 7 * 3 + 3


@pytest.mark.parametrize("bad, error, match", [
    (torch.randn(4, 3), ValueError, r"\(batch, 2\)"),
    (torch.randn(4), ValueError, r"\(batch, 2\)"),
    (torch.ones(4, 2, dtype=torch.long), TypeError, "floating-point"),
])
def test_bad_input_names_the_expected_shape(bad, error, match):
    with pytest.raises(error, match=match):
        zoo.create("xnet")(bad)


@pytest.mark.parametrize("config", [{"width": [2, 1]}, {"width": [2, 0, 1]}, {"init_d": 0.0}, {"init_d": -1.0}])
def test_out_of_range_configs_fail_at_create(config):
    with pytest.raises(ConfigError):
        zoo.create("xnet", **config)


def test_task_sizes_the_model():
    assert zoo.create("xnet", task="toy/bessel-j0").config.width == [1, 64, 1]
    with pytest.raises(ValueError, match="flat inputs"):
        zoo.create("xnet", task="digits")


def test_training_steps_lower_the_loss():
    model = zoo.create("xnet", task="toy/exp-sin", width=[2, 32, 1])
    before = zoo.evaluate(model, "toy/exp-sin")["rmse"]
    zoo.train(model, "toy/exp-sin", epochs=4, batch_size=128, lr=1e-2, progress=False)
    assert zoo.evaluate(model, "toy/exp-sin")["rmse"] < 0.5 * before


def test_spread_init_tiles_the_input_range_with_the_nodes():
    torch.manual_seed(0)
    model = zoo.create("xnet", width=[1, 25, 1])
    linear, act = model.hidden
    nodes = (-linear.bias / linear.weight[:, 0]).detach()
    assert torch.allclose(nodes.sort().values, torch.linspace(-1, 1, 25), atol=1e-6)
    assert torch.allclose(act.d, torch.full((25,), 2 / 25))
    model = zoo.create("xnet", width=[2, 16, 1], init_range=(0.0, 4.0), init_d=0.5)
    linear, act = model.hidden
    assert torch.allclose(linear.weight.norm(dim=1), torch.ones(16), atol=1e-6)
    assert torch.allclose(-linear.bias, torch.linspace(0, 4, 16))
    assert torch.allclose(act.d, torch.full((16,), 0.5))


def test_constant_init_keeps_pytorch_defaults_and_init_d():
    assert torch.all(zoo.create("xnet", init="constant").hidden[1].d == 1.0)
    assert torch.all(zoo.create("xnet", init="constant", init_d=0.3).hidden[1].d == 0.3)
    deep = zoo.create("xnet", variant="deep")
    assert torch.all(deep.hidden[3].d == 1.0)  # only the first layer is spread


@pytest.mark.parametrize("config", [{"init_range": (1.0, -1.0)}, {"init_range": (0.0, 0.0)}, {"init": "xavier"}])
def test_bad_init_fails_at_create(config):
    with pytest.raises(ConfigError):
        zoo.create("xnet", **config)
