"""adafnn-basis-layer: conformance, the Basis Layer's quadrature scores and normalisation, the two
regularisers by hand, the curve generator and the regression tasks, training that learns, bad input."""

import numpy as np
import pytest
import torch

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.adafnn_basis_layer.curves import fourier_basis, observation_grid, random_curves, trapezoid_weights
from zoo_plugins.adafnn_basis_layer.task import SETTINGS, FunctionalRegressionTask, component_variances


def test_conforms_default_and_variants():
    assert_conforms("adafnn-basis-layer")
    assert_conforms("adafnn-basis-layer", variant="regularised", grid_points=11, basis_hidden=[8], head_hidden=[8])


def test_scores_are_trapezoid_integrals_against_unit_norm_bases():
    torch.manual_seed(0)
    model = zoo.create("adafnn-basis-layer", grid_points=21, n_bases=3, basis_hidden=[16, 16])
    grid = np.linspace(0, 1, 21)
    beta = model.basis.bases().detach().double().numpy()
    np.testing.assert_allclose([np.trapezoid(b * b, grid) for b in beta], 1.0, rtol=1e-5)  # ||beta_k|| = 1
    raw = model.basis.raw_bases().detach().double().numpy()
    np.testing.assert_allclose(beta, raw / np.sqrt(np.trapezoid(raw ** 2, grid, axis=1))[:, None], rtol=1e-4, atol=1e-6)
    x = torch.randn(5, 21)
    expected = np.array([[np.trapezoid(xi * b, grid) for b in beta] for xi in x.double().numpy()])  # c_k = int X beta_k
    np.testing.assert_allclose(model.basis(x).detach().numpy(), expected, rtol=1e-4, atol=1e-5)


def test_penalties_by_hand_and_zero_for_an_orthonormal_basis(monkeypatch):
    torch.manual_seed(1)
    model = zoo.create("adafnn-basis-layer", grid_points=33, n_bases=3, basis_hidden=[8], ortho_penalty=0.7,
                       l1_penalty=0.2)
    grid = np.linspace(0, 1, 33)
    beta = model.basis.bases().detach().double().numpy()
    gram = np.array([[np.trapezoid(a * b, grid) for b in beta] for a in beta])
    ortho = np.abs(gram - np.diag(np.diag(gram))).sum()
    l1 = sum(np.trapezoid(np.abs(b), grid) for b in beta)
    got_ortho, got_l1 = (v.item() for v in model.basis.penalties())
    assert got_ortho == pytest.approx(ortho, rel=1e-4) and got_ortho > 0.01
    assert got_l1 == pytest.approx(l1, rel=1e-4)
    assert model.regularization().item() == pytest.approx(0.7 * ortho + 0.2 * l1, rel=1e-4)
    fourier = torch.tensor(fourier_basis(grid, 3), dtype=torch.float32)  # orthonormal: no orthogonality penalty
    monkeypatch.setattr(model.basis, "raw_bases", lambda: fourier)
    assert model.basis.penalties()[0].item() < 1e-5


def test_curve_generator():
    grid = observation_grid(101)
    phi = fourier_basis(grid, 7)
    w = trapezoid_weights(grid)
    np.testing.assert_allclose((phi * w) @ phi.T, np.eye(7), atol=1e-10)  # orthonormal in L2[0, 1]
    variances = np.array([1.0, 0.25, 0.04])
    curves, coef = random_curves(4000, grid, np.random.default_rng(0), variances=variances)
    np.testing.assert_allclose(curves, coef @ phi[:3], atol=1e-12)
    np.testing.assert_allclose(coef.var(0), variances, rtol=0.1)
    np.testing.assert_allclose((curves * w) @ phi[:3].T, coef, atol=1e-10)  # projection gives back c_k
    noisy, _ = random_curves(10, grid, np.random.default_rng(0), variances=variances, noise=0.5)
    assert 0.3 < (noisy - curves[:10]).std() < 0.7
    with pytest.raises(ValueError, match="variances"):
        random_curves(3, grid, np.random.default_rng(0), variances=[-1.0])
    with pytest.raises(ValueError, match="points >= 2"):
        observation_grid(1)


@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_task_target_depends_on_its_two_components(setting):
    task = FunctionalRegressionTask(setting=setting, train=300, val=50, test=150, target_noise=0.1, seed=3)
    a, b = SETTINGS[setting]
    z = task.coefficients / np.sqrt(component_variances())
    residual = task.y - (z[:, a - 1] + (z[:, b - 1] ** 2 - 1) / np.sqrt(2))
    assert abs(residual.std() - 0.1) < 0.02
    splits = task.splits()
    assert [len(splits[k]) for k in ("train", "val", "test")] == [300, 50, 150]
    assert splits["train"].tensors[0].shape == (300, 51) and splits["train"].tensors[1].shape == (300, 1)
    with pytest.raises(ValueError, match="setting must be one of"):
        FunctionalRegressionTask(setting="middle")
    with pytest.raises(ValueError, match="grid_points"):
        FunctionalRegressionTask(grid_points=2)


def test_training_lowers_the_error():
    task = FunctionalRegressionTask(setting="leading", train=256, val=50, test=200, seed=0)
    torch.manual_seed(0)
    model = zoo.create("adafnn-basis-layer", task=task, basis_hidden=[32, 32], head_hidden=[64, 64])
    x, y = task.splits()["test"].tensors
    model.eval()
    before = torch.nn.functional.mse_loss(model(x), y).item()
    zoo.train(model, task, optimizer="adam", lr=3e-3, batch_size=64, epochs=5, eval_splits=[], final_splits=[],
              progress=False)
    model.eval()
    after = torch.nn.functional.mse_loss(model(x), y).item()
    assert after < 0.6 * before


def test_bad_input_and_config():
    model = zoo.create("adafnn-basis-layer", grid_points=9)
    with pytest.raises(ValueError, match=r"\(batch, 9\)"):
        model(torch.randn(2, 10))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(2, 9, dtype=torch.long))
    for bad in ({"grid_points": 1}, {"n_bases": 0}, {"dropout": 1.0}, {"ortho_penalty": -1.0},
                {"basis_hidden": [0]}, {"head_hidden": [10] * 17}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("adafnn-basis-layer", **bad)
