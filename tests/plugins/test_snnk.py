"""snnk: conformance, the URF identity (phi(x)^T psi(w, b) is an unbiased estimate of f(w^T x + b) whose
error shrinks as 1/sqrt(m)), the layer's parameters and initialisation, the teacher task, training,
and bad input."""

import numpy as np
import pytest
import torch

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.snnk.model import input_features, kernel_approximation, weight_features
from zoo_plugins.snnk.task import teacher_task


def test_conforms_default_and_variants():
    assert_conforms("snnk")
    for variant in ("regular", "exp"):
        assert_conforms("snnk", variant=variant, input_dim=6, output_dim=2, hidden_dim=5, features=4)


def test_feature_maps_by_hand():
    omega = torch.tensor([[1.0, -2.0], [0.5, 0.0]], dtype=torch.float64)
    x = torch.tensor([[0.3, 0.1]], dtype=torch.float64)
    w, b = torch.tensor([[0.2, -0.4]], dtype=torch.float64), torch.tensor([0.7], dtype=torch.float64)
    phi = input_features(x, omega)
    expected_phi = [np.exp(0.3 * 1 - 0.1 * 2 - 0.05) / np.sqrt(2), np.exp(0.15 - 0.05) / np.sqrt(2)]
    np.testing.assert_allclose(phi[0].numpy(), expected_phi)
    psi = weight_features(w, b, omega, "cos")[:, 0]
    expected_psi = [np.exp(0.1) * np.cos(0.2 + 0.8 + 0.7) / np.sqrt(2), np.exp(0.1) * np.cos(0.1 + 0.7) / np.sqrt(2)]
    np.testing.assert_allclose(psi.numpy(), expected_psi)
    psi_exp = weight_features(w, b, omega, "exp")[:, 0]
    np.testing.assert_allclose(psi_exp.numpy(), [np.exp(0.7 + 1.0 - 0.1) / np.sqrt(2), np.exp(0.7 + 0.1 - 0.1) / np.sqrt(2)])


@pytest.mark.parametrize("activation", ["cos", "sin", "exp"])
def test_urf_estimate_converges_to_the_layer(activation):
    generator = torch.Generator().manual_seed(0)
    x = (torch.rand(40, 8, generator=generator, dtype=torch.float64) * 2 - 1) / 3
    w = torch.randn(5, 8, generator=generator, dtype=torch.float64) * 0.2
    b = torch.randn(5, generator=generator, dtype=torch.float64) * 0.5
    errors = []
    for m in (64, 16384):
        estimate, exact = kernel_approximation(x, w, b, m, activation, generator)
        errors.append(((estimate - exact).pow(2).mean().sqrt() / exact.pow(2).mean().sqrt()).item())
    assert errors[1] < 0.03 and errors[1] < errors[0] / 6  # 1/sqrt(m): 16x fewer std at 256x the features
    # unbiased: the mean of many small estimates is the exact value
    estimates = torch.stack([kernel_approximation(x[:3], w, b, 32, activation, generator)[0] for _ in range(2000)])
    exact = kernel_approximation(x[:3], w, b, 1, activation)[1]
    torch.testing.assert_close(estimates.mean(0), exact, atol=0.02, rtol=0.02)


def test_snnk_layer_trains_only_the_projection_and_starts_near_a_regular_layer():
    torch.manual_seed(0)
    model = zoo.create("snnk", input_dim=64, output_dim=10, hidden_dim=64, features=16)
    trainable = {n: p.numel() for n, p in model.named_parameters()}
    assert trainable == {"hidden.projection": 16 * 64, "readout.weight": 640, "readout.bias": 10}
    regular = zoo.create("snnk", input_dim=64, output_dim=10, hidden_dim=64, layer="regular")
    assert sum(p.numel() for p in regular.parameters()) - 650 == 4 * 16 * 64 + 64  # 4x more in the layer
    assert "hidden.omega" in dict(model.named_buffers())
    # with many features the initial SNNK layer is Psi(W0, b0) of a regular layer: compare to cos(W0 x + b0)
    from zoo_plugins.snnk.model import SNNKLayer

    torch.manual_seed(1)
    layer = SNNKLayer(8, 4, 20000, "cos").double()
    torch.manual_seed(1)
    torch.randn(20000, 8)  # the same omega draw, then the same W0, b0
    w0, b0 = torch.randn(4, 8) * 0.5 / np.sqrt(8), torch.randn(4) * 0.5
    x = (torch.rand(10, 8, dtype=torch.float64) * 2 - 1) / np.sqrt(8)
    torch.testing.assert_close(layer(x), torch.cos(x @ w0.double().T + b0.double()), atol=0.05, rtol=0.05)


def test_teacher_task():
    task = teacher_task(n_train=300, n_test=100, features=12, seed=3)
    x, y = task.splits()["train"][:]
    assert x.shape == (300, 12) and y.shape == (300, 1)
    assert abs(float(y.mean())) < 1e-5 and abs(float(y.std()) - 1) < 0.01
    assert float(x.min()) >= -1 and float(x.max()) <= 1
    again = teacher_task(n_train=300, n_test=100, features=12, seed=3).splits()["train"][:][1]
    other = teacher_task(n_train=300, n_test=100, features=12, seed=4).splits()["train"][:][1]
    assert torch.equal(torch.as_tensor(y), torch.as_tensor(again)) and not torch.equal(torch.as_tensor(y), torch.as_tensor(other))
    for bad in ({"n_train": 0}, {"features": 0}, {"noise": -1.0}):
        with pytest.raises(ValueError):
            teacher_task(**bad)


def test_training_improves():
    task = teacher_task(n_train=500, n_test=200, features=8, seed=0)
    torch.manual_seed(0)
    model = zoo.create("snnk", task=task, features=32, hidden_dim=16)
    before = zoo.evaluate(model, task)["rmse"]
    zoo.train(model, task, optimizer="adam", lr=1e-2, batch_size=64, epochs=10, eval_splits=[], final_splits=[])
    assert zoo.evaluate(model, task)["rmse"] < 0.8 * before


def test_bad_input_and_config():
    model = zoo.create("snnk", input_dim=4, output_dim=2, features=4)
    with pytest.raises(ValueError, match=r"\(batch, 4\)"):
        model(torch.randn(3, 5))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="activation must be"):
        weight_features(torch.zeros(1, 2), torch.zeros(1), torch.zeros(3, 2), "relu")
    for bad in ({"features": 0}, {"activation": "relu"}, {"layer": "dense"}, {"weight_std": 0.0},
                {"features": 10**6}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("snnk", **bad)
