"""s-kan: conformance, each activation space's basis, the fused layer against the per-space sum it
stands for, selection and pruning, bad input, and a few training steps that lower the loss."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from scipy.special import eval_jacobi

import zoo
from zoo.errors import ConfigError
from zoo.testing import assert_conforms
from zoo_plugins.kan.config import KANConfig
from zoo_plugins.kan.model import KAN, b_spline_basis
from zoo_plugins.s_kan.spaces import SPACE_NAMES, ActivationSpaces


def test_conforms_default_and_single_space():
    assert_conforms("s-kan")
    assert_conforms("s-kan", variant="jacobi", width=[3, 2, 2])


def test_each_space_is_the_basis_of_its_kan_variant():
    x = torch.linspace(-1, 1, 41).unsqueeze(1).double()
    spaces = ActivationSpaces(list(SPACE_NAMES), grid=5, k=3, grid_range=(-1.0, 1.0)).double()
    basis = dict(zip(SPACE_NAMES, spaces(x).unbind(-2)))  # each (41, 1, 8)
    knots = (torch.arange(-3, 9, dtype=torch.float64) * 0.4 - 1).unsqueeze(0)
    assert torch.allclose(basis["bspline"], b_spline_basis(x, knots, 3))
    centres = torch.linspace(-1, 1, 8, dtype=torch.float64)
    assert torch.allclose(basis["rbf"][:, 0], torch.exp(-((x - centres) / (2 / 7)) ** 2))
    assert torch.allclose(basis["rswaf"][:, 0], 1 - torch.tanh((x - centres) / (2 / 7)) ** 2)
    t = torch.tanh(x)
    orders = torch.arange(8, dtype=torch.float64)
    assert torch.allclose(basis["chebyshev"][:, 0], torch.cos(orders * torch.acos(t)), atol=1e-10)
    assert torch.allclose(basis["jacobi"][:, 0],
                          torch.from_numpy(eval_jacobi(orders.numpy(), 1, 1, t.numpy())), atol=1e-10)
    start, end = knots[0, :8], knots[0, 4:12]
    bump = (F.relu(end - x) * F.relu(x - start)) ** 2 * 16 / (end - start) ** 4
    assert torch.allclose(basis["relu"][:, 0], bump)
    assert basis["relu"].max() <= 1 + 1e-12


def test_bspline_space_is_a_kan():
    torch.manual_seed(0)
    kan = KAN(KANConfig(width=[2, 3, 1]))
    model = zoo.create("s-kan", variant="bspline", width=[2, 3, 1])
    with torch.no_grad():
        for src, dst in zip(kan.layers, model.layers):
            dst.coef.copy_((src.scale_sp.unsqueeze(-1) * src.coef).unsqueeze(2))
            dst.scale_base.copy_(src.scale_base)
    x = torch.rand(100, 2) * 2 - 1
    assert torch.allclose(model(x), kan(x), atol=1e-5)


def _per_space_reference(layer, x):
    """The layer written the obvious way: one KAN layer per space, mixed by the node's weights."""
    out = F.silu(x) @ layer.scale_base
    basis = layer.basis(x)  # (batch, in, S, n)
    gates = layer.gates()
    for s in range(basis.shape[2]):
        out = out + gates[:, s] * torch.einsum("bim,iom->bo", basis[:, :, s], layer.coef[:, :, s])
    return out


def test_fused_layer_equals_the_weighted_sum_of_single_space_layers_and_selection_prunes():
    torch.manual_seed(0)
    model = zoo.create("s-kan", width=[3, 4, 2])
    with torch.no_grad():
        for layer in model.layers:
            layer.selection.normal_()
    layer = model.layers[0]
    x = torch.rand(64, 3) * 2 - 1
    assert torch.allclose(layer(x), _per_space_reference(layer, x), atol=1e-5)
    assert torch.allclose(layer.gates().sum(-1), torch.ones(4))

    best = layer.gates().argmax(-1)
    kept_part = torch.stack([
        layer.gates()[j, best[j]] * torch.einsum("bim,im->b", layer.basis(x)[:, :, best[j]], layer.coef[:, j, best[j]])
        for j in range(4)], dim=1) + F.silu(x) @ layer.scale_base
    full_count = model.active_parameter_count()
    model.select_spaces()
    assert torch.equal(layer.gates(), F.one_hot(best, 6).float())
    assert torch.allclose(layer(x), kept_part, atol=1e-5)  # the selected part of the function is kept
    assert all(len(node) == 1 for layer_choice in model.chosen_spaces() for node in layer_choice)
    # pruned: per edge G + k coefficients of one space plus the residual weight
    assert model.active_parameter_count() == (3 * 4 + 4 * 2) * (8 + 1) < full_count
    assert torch.allclose(layer(x), _per_space_reference(layer, x), atol=1e-5)


@pytest.mark.parametrize("bad, error, match", [
    (torch.randn(4, 3), ValueError, r"\(batch, 2\)"),
    (torch.randn(4), ValueError, r"\(batch, 2\)"),
    (torch.ones(4, 2, dtype=torch.long), TypeError, "floating-point"),
])
def test_bad_input_names_the_expected_shape(bad, error, match):
    with pytest.raises(error, match=match):
        zoo.create("s-kan")(bad)


@pytest.mark.parametrize("config", [
    {"spaces": []}, {"spaces": ["bspline", "bspline"]}, {"spaces": ["wavelet"]}, {"grid": 0}, {"k": -1},
    {"width": [2]}, {"grid_range": (0.5, 0.5)},
])
def test_out_of_range_configs_fail_at_create(config):
    with pytest.raises(ConfigError):
        zoo.create("s-kan", **config)


def test_task_sizes_the_model():
    assert zoo.create("s-kan", task="toy/four-var").config.width == [4, 5, 1]


def test_three_stage_training_lowers_the_loss():
    model = zoo.create("s-kan", task="toy/exp-sin", width=[2, 3, 1])
    before = zoo.evaluate(model, "toy/exp-sin")["rmse"]
    zoo.train(model, "toy/exp-sin", epochs=3, batch_size=128, lr=1e-2, progress=False)  # full training
    full = zoo.evaluate(model, "toy/exp-sin")["rmse"]
    model.select_spaces()  # selection and pruning
    zoo.train(model, "toy/exp-sin", epochs=2, batch_size=128, lr=1e-2, progress=False)  # selective training
    assert full < 0.5 * before and zoo.evaluate(model, "toy/exp-sin")["rmse"] < 0.5 * before
