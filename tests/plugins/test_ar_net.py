"""ar-net: conformance, the model is the AR equation, R(theta)'s closed form and lambda, the AR(p)
task's process, training that reaches least squares, and bad input."""

import math

import numpy as np
import pytest
import torch

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.ar_net.model import regularization_strength, sparsity_penalty
from zoo_plugins.ar_net.task import ARProcessTask, draw_ar_coefficients, lag_matrix, simulate_ar


def test_conforms_default_and_variants():
    assert_conforms("ar-net")
    assert_conforms("ar-net", variant="sparse")
    assert_conforms("ar-net", variant="deep", lags=6, hidden_dim=8)


def test_forecast_is_the_ar_equation():
    torch.manual_seed(0)
    model = zoo.create("ar-net", lags=4)
    x = torch.randn(5, 4)
    w, c = model.coefficients(), model.layers[0].bias
    expected = c + sum(w[i] * x[:, i] for i in range(4))  # y_hat = c + sum_i w_i y_{t-i}
    torch.testing.assert_close(model(x)[:, 0], expected)


def test_penalty_closed_form_and_shape():
    w = torch.tensor([0.0, 0.001, 0.1, 1.0, -1.0])
    expected = np.mean([2 / (1 + math.exp(-3 * abs(v) ** (1 / 3))) - 1 for v in w.tolist()])
    assert sparsity_penalty(w).item() == pytest.approx(expected, rel=1e-6)
    assert sparsity_penalty(torch.zeros(7)).item() == 0.0
    # steep near zero, flat for large weights: what lets it zero small weights and spare large ones
    g = torch.func.grad(lambda v: sparsity_penalty(v))(torch.tensor([0.01, 0.5]))
    assert g[0] > 5 * g[1] > 0
    assert regularization_strength(1.0) == 0.0
    assert regularization_strength(0.03) == pytest.approx(0.02 * (1 / 0.03 - 1))


def test_lambda_ramps_up_then_holds():
    model = zoo.create("ar-net", lags=10, sparsity=0.1, reg_ramp=0.5)
    assert model.lambda_at(0.0) == 0.0
    assert model.lambda_at(0.25) == pytest.approx(model.lam / 2)
    assert model.lambda_at(0.5) == model.lambda_at(0.9) == pytest.approx(0.02 * 9)
    assert zoo.create("ar-net", lags=10).lam == 0.0


def test_task_simulates_a_stationary_ar_process():
    rng = np.random.default_rng(0)
    for order in (1, 3, 8):
        a = draw_ar_coefficients(order, rng)
        assert np.all(np.abs(np.roots(np.r_[1.0, -a][::-1])) > 1)
    a = np.array([0.5, -0.2])
    y = simulate_ar(a, 200, np.random.default_rng(1))
    x, target = lag_matrix(y, 2)
    assert x.shape == (198, 2) and np.allclose(x[:, 0], y[1:-1]) and np.allclose(x[:, 1], y[:-2])
    residual = target - x @ a  # what is left must be the white noise itself
    assert abs(residual.std() - 1.0) < 0.15
    task = ARProcessTask(order=3, window=10, train=500, val=50, test=50, seed=2)
    assert task.coefficients.shape == (10,) and np.all(task.coefficients[3:] == 0)
    splits = task.splits()
    assert [len(splits[k]) for k in ("train", "val", "test")] == [500, 50, 50]
    with pytest.raises(ValueError, match="order and window"):
        ARProcessTask(order=5, window=3)


def test_training_reaches_least_squares():
    task = ARProcessTask(order=2, window=2, train=3000, val=100, test=100, seed=0)
    x, y = (t.double().numpy() for t in task.splits()["train"].tensors)
    ols = np.linalg.lstsq(np.c_[x, np.ones(len(x))], y[:, 0], rcond=None)[0][:2]
    torch.manual_seed(0)
    model = zoo.create("ar-net", task=task)
    before = np.abs(model.coefficients().numpy() - ols).max()
    zoo.train(model, task, optimizer="adam", lr=3e-2, batch_size=64, epochs=3, schedule="cosine", eval_splits=[],
              final_splits=[])
    after = np.abs(model.coefficients().numpy() - ols).max()
    assert after < 0.03 < before


def test_regulariser_shrinks_spurious_lags():
    y = simulate_ar(np.array([0.5, -0.3]), 3008, np.random.default_rng(0))  # AR(2) seen through 8 lags
    x, target = lag_matrix(y, 8)
    data = (x.astype(np.float32), target[:, None].astype(np.float32))
    fitted = {}
    for name, options in (("plain", {}), ("sparse", {"sparsity": 0.25, "reg_ramp": 0.0, "reg_strength": 0.2})):
        torch.manual_seed(0)
        model = zoo.create("ar-net", lags=8, **options)
        zoo.train(model, data, loss=torch.nn.functional.mse_loss, optimizer="adam", lr=1e-2, batch_size=64, epochs=4,
                  schedule="cosine", eval_splits=[], final_splits=[])
        fitted[name] = model.coefficients()
    spurious = {name: w[2:].abs().sum().item() for name, w in fitted.items()}
    assert spurious["sparse"] < 0.7 * spurious["plain"]
    assert fitted["sparse"][0] > 0.3  # the large true coefficient survives the penalty


def test_bad_input_and_config():
    model = zoo.create("ar-net", lags=3)
    with pytest.raises(ValueError, match=r"\(batch, 3\)"):
        model(torch.randn(4, 5))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(4, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="hidden_layers=0"):
        zoo.create("ar-net", lags=3, hidden_layers=1).coefficients()
    for bad in ({"lags": 0}, {"sparsity": 0.0}, {"sparsity": 1.5}, {"reg_c2": 0.5}, {"reg_ramp": 2.0}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("ar-net", **bad)
