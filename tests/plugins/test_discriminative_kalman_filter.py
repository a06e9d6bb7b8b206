"""discriminative-kalman-filter: conformance, the DKF update against the product of Gaussians it
stands for, its positive-definite fallback, the Kalman filter baseline against a hand-computed
step, the least-squares fits of the state and observation models, the task's data, a tiny
training that improves, and bad input."""

import numpy as np
import pytest
import torch

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.discriminative_kalman_filter.model import (dkf_update, fit_linear_dynamics, fit_linear_observation,
                                                            kalman_filter)
from zoo_plugins.discriminative_kalman_filter.task import StateSpaceTask


def test_conforms_default_and_learned_covariance():
    assert_conforms("discriminative-kalman-filter", obs_dim=6, hidden_dim=8)
    assert_conforms("discriminative-kalman-filter", variant="learned-covariance", obs_dim=6, hidden_dim=8)


def _spd(d, rng, scale=1.0):
    m = rng.normal(size=(d, d))
    return torch.as_tensor(scale * (m @ m.T + d * np.eye(d)), dtype=torch.float64)


def test_update_is_the_normalised_product_of_gaussians():
    # posterior density ∝ N(z; nu, M) N(z; f, Q) / N(z; 0, S): its precision and mean by hand
    rng = np.random.default_rng(0)
    m, q, s = _spd(2, rng, 0.1), _spd(2, rng, 0.05), _spd(2, rng, 2.0)
    nu, f = torch.randn(1, 2, dtype=torch.float64), torch.randn(1, 2, dtype=torch.float64)
    mu, sigma = dkf_update(nu, m[None], f, q[None], torch.linalg.inv(s))
    precision = torch.linalg.inv(m) + torch.linalg.inv(q) - torch.linalg.inv(s)
    torch.testing.assert_close(sigma[0], torch.linalg.inv(precision))
    information = torch.linalg.inv(m) @ nu[0] + torch.linalg.inv(q) @ f[0]
    torch.testing.assert_close(mu[0], torch.linalg.solve(precision, information))
    # the mode of the log density: its gradient vanishes at mu
    z = mu[0].clone().requires_grad_()
    logp = (-0.5 * (z - nu[0]) @ torch.linalg.inv(m) @ (z - nu[0]) - 0.5 * (z - f[0]) @ torch.linalg.inv(q) @ (z - f[0])
            + 0.5 * z @ torch.linalg.inv(s) @ z)
    (grad,) = torch.autograd.grad(logp, z)
    assert grad.abs().max() < 1e-9


def test_fallback_when_q_inverse_minus_s_inverse_is_not_positive_definite():
    eye = torch.eye(2, dtype=torch.float64)[None]
    nu, f = torch.zeros(1, 2, dtype=torch.float64), torch.ones(1, 2, dtype=torch.float64)
    s_inv = torch.linalg.inv(0.5 * eye[0])  # prior tighter than the regression: Q^-1 - S^-1 < 0
    mu, sigma = dkf_update(nu, eye, f, 4.0 * eye, s_inv)
    torch.testing.assert_close(sigma[0], torch.linalg.inv(eye[0] + 0.25 * eye[0]))  # S^-1 dropped
    assert torch.linalg.eigvalsh(sigma[0]).min() > 0
    torch.testing.assert_close(mu[0], sigma[0] @ (0.25 * torch.ones(2, dtype=torch.float64)))


def test_kalman_filter_one_step_by_hand():
    a, gamma = torch.tensor([[0.9, 0.1], [0.0, 0.8]]), 0.1 * torch.eye(2)
    h, b, r = torch.tensor([[1.0, 0.0], [0.5, 1.0], [0.0, 2.0]]), torch.tensor([0.1, 0.0, -0.1]), 0.2 * torch.eye(3)
    s, x = torch.eye(2), torch.tensor([[[0.3, -0.2, 0.5]]])
    m = a @ s @ a.T + gamma  # prediction from mu_0 = 0, Sigma_0 = S
    gain = m @ h.T @ torch.linalg.inv(h @ m @ h.T + r)
    torch.testing.assert_close(kalman_filter(x, a, gamma, h, b, r, s)[0, 0], gain @ (x[0, 0] - b))


def test_least_squares_fits_recover_the_generating_models():
    rng = np.random.default_rng(0)
    a = np.array([[0.95, -0.2], [0.2, 0.95]]) * 0.98
    z = np.zeros((20000, 2))
    for t in range(1, len(z)):
        z[t] = a @ z[t - 1] + rng.normal(0, 0.1, 2)
    states = torch.as_tensor(z)[None]
    a_hat, gamma_hat, s_hat = fit_linear_dynamics(states)
    np.testing.assert_allclose(a_hat.numpy(), a, atol=0.02)
    np.testing.assert_allclose(gamma_hat.numpy(), 0.01 * np.eye(2), atol=1e-3)
    h = rng.normal(size=(4, 2))
    x = z @ h.T + 0.5 + rng.normal(0, 0.05, (len(z), 4))
    h_hat, b_hat, r_hat = fit_linear_observation(torch.as_tensor(z), torch.as_tensor(x))
    np.testing.assert_allclose(h_hat.numpy(), h, atol=0.01)
    np.testing.assert_allclose(b_hat.numpy(), 0.5 * np.ones(4), atol=0.01)
    np.testing.assert_allclose(np.diag(r_hat.numpy()), 0.0025 * np.ones(4), rtol=0.1)


def test_task_segments_and_windows():
    task = StateSpaceTask(length=1000, window=20, seed=0)
    splits = task.splits()
    x, z = splits["train"].tensors
    assert x.shape == (35, 20, 20) and z.shape == (35, 20, 2)
    assert [len(task.segments[k][0]) for k in ("train", "val", "test")] == [700, 100, 200]
    np.testing.assert_array_equal(task.segments["train"][1][:20], z[0].numpy())
    with pytest.raises(ValueError, match="window must be"):
        StateSpaceTask(window=1)
    with pytest.raises(ValueError, match="length must be"):
        StateSpaceTask(length=100, window=50)


def test_training_and_filtering_beat_the_untrained_regression():
    task = StateSpaceTask(length=1500, window=25, seed=1)
    torch.manual_seed(0)
    model = zoo.create("discriminative-kalman-filter", task=task, hidden_dim=32)
    train_x, train_z = (torch.as_tensor(a) for a in task.segments["train"])
    model.fit_state_model(train_z[None])
    before = model.regression_loss(train_x, train_z).item()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(300):
        optimizer.zero_grad()
        model.regression_loss(train_x, train_z).backward()
        optimizer.step()
    assert model.regression_loss(train_x, train_z).item() < 0.3 * before
    model.calibrate(*(torch.as_tensor(a) for a in task.segments["val"]))
    test_x, test_z = (torch.as_tensor(a) for a in task.segments["test"])
    with torch.no_grad():
        filtered = ((model(test_x[None])[0] - test_z) ** 2).mean()
        alone = ((model.regression(test_x)[0] - test_z) ** 2).mean()
    assert filtered < alone  # the filter pools evidence over time


def test_bad_input_and_config():
    model = zoo.create("discriminative-kalman-filter", obs_dim=5)
    with pytest.raises(ValueError, match="obs_dim = 5"):
        model(torch.randn(2, 3, 4))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(2, 3, 5, dtype=torch.long))
    for bad in ({"state_dim": 0}, {"covariance": "full"}, {"min_variance": 0.0}, {"hidden_dim": 10**6}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("discriminative-kalman-filter", **bad)
