"""matrixkan: conformance, the basis matrix, identical outputs and gradients to KAN on the same
weights (uniform grids, and non-uniform grids through the per-interval matrices), bad input, and a
few training steps that lower the loss."""

from __future__ import annotations

import pytest
import torch

import zoo
from zoo.errors import ConfigError
from zoo.testing import assert_conforms
from zoo_plugins.kan.config import KANConfig
from zoo_plugins.kan.model import KAN, b_spline_basis
from zoo_plugins.matrixkan.config import MatrixKANConfig
from zoo_plugins.matrixkan.model import (MatrixKAN, interval_basis_matrices, is_uniform_grid,
                                         uniform_basis_matrix)


def test_conforms_default_and_per_interval():
    assert_conforms("matrixkan")
    assert_conforms("matrixkan", variant="per-interval", width=[3, 4, 2], k=5)


def test_cubic_basis_matrix_is_the_uniform_cubic_b_spline_matrix():
    expected = torch.tensor([[1, 4, 1, 0], [-3, 0, 3, 0], [3, -6, 3, 0], [-1, 3, -3, 1]], dtype=torch.float64) / 6
    assert torch.allclose(uniform_basis_matrix(3), expected, atol=1e-15)
    assert torch.equal(uniform_basis_matrix(0), torch.ones(1, 1, dtype=torch.float64))


@pytest.mark.parametrize("k", [1, 3, 6])
def test_per_interval_matrices_equal_psi_inside_a_uniform_grid(k):
    grid_size = 5
    knots = (torch.arange(-k, grid_size + k + 1, dtype=torch.float64) * 0.4 - 1).expand(2, -1)
    matrices = interval_basis_matrices(knots, k)  # (2, G + 2k, k+1, k+1)
    # intervals k .. G+k-1 carry k+1 existing B-splines; Qin's recursion and the Cox-de Boor fit agree
    assert torch.allclose(matrices[:, k:grid_size + k], uniform_basis_matrix(k), atol=1e-9)


@pytest.mark.parametrize("k", [0, 1, 2, 3, 5, 6])
def test_same_outputs_and_gradients_as_kan_on_uniform_grids(k):
    config = dict(width=[3, 4, 2], grid=5, k=k)
    torch.manual_seed(0)
    kan = KAN(KANConfig(**config))
    torch.manual_seed(0)
    matrix_kan = MatrixKAN(MatrixKANConfig(**config))
    assert all(torch.equal(a, b) for a, b in zip(kan.state_dict().values(), matrix_kan.state_dict().values()))
    x = torch.rand(512, 3) * 3.2 - 1.6  # includes points beyond the extended grid, where B-splines vanish
    assert torch.allclose(matrix_kan.layers[0].basis(x), b_spline_basis(x, kan.layers[0].grid, k), atol=1e-5)
    kan(x).square().sum().backward()
    matrix_kan(x).square().sum().backward()
    assert torch.allclose(matrix_kan(x), kan(x), atol=2e-5)
    for (name, p), q in zip(kan.named_parameters(), matrix_kan.parameters()):
        assert (p.grad - q.grad).abs().max() <= 1e-5 * p.grad.abs().max() + 1e-6, name


def test_non_uniform_grids_need_the_per_interval_matrices():
    torch.manual_seed(0)
    kan = KAN(KANConfig(width=[2, 3, 1], k=3))
    kan.update_grid(torch.randn(400, 2) * 0.4)  # quantile knots: non-uniform
    assert not is_uniform_grid(kan.layers[0].grid)
    with pytest.raises(ValueError, match="per-interval"):
        MatrixKAN.from_kan(kan, "uniform")
    converted = MatrixKAN.from_kan(kan, "per-interval")
    x = torch.rand(300, 2) * 2.4 - 1.2
    assert torch.allclose(converted(x), kan(x), atol=2e-5)
    # the matrices follow later grid updates too
    samples = torch.rand(300, 2) * 1.6 - 0.8
    kan.update_grid(samples)
    converted.update_grid(samples)
    assert torch.allclose(converted(x), kan(x), atol=2e-5)


def test_a_kan_state_dict_loads_strictly_and_uniform_grid_updates_stay_uniform():
    kan = zoo.create("kan", width=[2, 4, 1])
    model = zoo.create("matrixkan", width=[2, 4, 1])
    model.load_state_dict(kan.state_dict(), strict=True)
    x = torch.rand(64, 2) * 2 - 1
    assert torch.allclose(model(x), kan(x), atol=2e-5)
    before = model(x)
    model.update_grid(torch.rand(256, 2) * 1.2 - 0.6)
    assert all(is_uniform_grid(layer.grid) for layer in model.layers)
    # refitting onto the new grid keeps the function where the samples were
    inner = torch.rand(64, 2) * 1.0 - 0.5
    assert torch.allclose(model(inner), kan(inner), atol=0.05)
    assert not torch.equal(model(x), before)


@pytest.mark.parametrize("bad, error, match", [
    (torch.randn(4, 3), ValueError, r"\(batch, 2\)"),
    (torch.randn(4), ValueError, r"\(batch, 2\)"),
    (torch.ones(4, 2, dtype=torch.long), TypeError, "floating-point"),
])
def test_bad_input_names_the_expected_shape(bad, error, match):
    with pytest.raises(error, match=match):
        zoo.create("matrixkan")(bad)


@pytest.mark.parametrize("config", [
    {"basis_matrix": "cox-de-boor"}, {"k": -1}, {"k": 11}, {"grid": 0}, {"width": [2]},
    {"grid_range": (1.0, -1.0)},
])
def test_out_of_range_configs_fail_at_create(config):
    with pytest.raises(ConfigError):
        zoo.create("matrixkan", **config)


def test_task_sizes_the_model():
    assert zoo.create("matrixkan", task="toy/bessel-j0").config.width == [1, 5, 1]
    with pytest.raises(ValueError, match="flat inputs"):
        zoo.create("matrixkan", task="digits")


def test_training_steps_lower_the_loss():
    model = zoo.create("matrixkan", task="toy/exp-sin")
    before = zoo.evaluate(model, "toy/exp-sin")["rmse"]
    zoo.train(model, "toy/exp-sin", epochs=4, batch_size=128, lr=1e-2, progress=False)
    assert zoo.evaluate(model, "toy/exp-sin")["rmse"] < 0.5 * before


@pytest.mark.parametrize("mode", ["uniform", "per-interval"])
def test_kan_toolkit_gives_back_matrixkans(mode):
    model = zoo.create("matrixkan", width=[2, 3, 1], basis_matrix=mode)
    x = torch.rand(200, 2) * 2 - 1
    refined = model.refine(10, x)  # grid extension
    assert type(refined) is MatrixKAN and refined.config.grid == 10 and refined.config.basis_matrix == mode
    assert all(is_uniform_grid(layer.grid) for layer in refined.layers) == (mode == "uniform")
    assert torch.allclose(refined(x), model(x), atol=0.05)
    pruned = model.prune(x, threshold=0.0)
    assert type(pruned) is MatrixKAN and torch.allclose(pruned(x), model(x), atol=1e-6)
    assert torch.isfinite(model.regularization(x))
