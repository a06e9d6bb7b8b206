"""camel-affine-meta: conformance, the model is linear in its task weights, the closed-form
adaptation is the ridge least-squares solution, parameter identification recovers an affine map,
the multi-environment task's physics, a tiny training that improves, the ANIL baseline's inner
loop, and bad input."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.camel_affine_meta.baselines import ANIL
from zoo_plugins.camel_affine_meta.model import (apply_parameter_map, fit_parameter_map, parameter_r2,
                                                 ridge_solve)
from zoo_plugins.camel_affine_meta.task import MultiEnvironmentTask, environment_points, physical_coefficients


def test_conforms():
    assert_conforms("camel-affine-meta")
    assert_conforms("camel-affine-meta", rank=3, output_dim=2, environments=5, activation="relu")


def test_prediction_is_linear_in_the_task_weights():
    torch.manual_seed(0)
    model = zoo.create("camel-affine-meta", rank=3, output_dim=2, environments=4)
    x = torch.randn(6, 2)
    v = model.features(x)  # (6, 2, 3)
    w1, w2 = torch.randn(3), torch.randn(3)
    torch.testing.assert_close(model.predict(x, 2 * w1 - w2), 2 * model.predict(x, w1) - model.predict(x, w2))
    torch.testing.assert_close(model.predict(x, w1), sum(w1[k] * v[:, :, k] for k in range(3)))  # sum_k w_k v_k(x)
    env = torch.tensor([0, 3, 1, 1, 2, 0])
    expected = torch.stack([v[i] @ model.task_weights[e] for i, e in enumerate(env)])
    torch.testing.assert_close(model(x, env), expected)


def test_adaptation_is_the_ridge_solution():
    torch.manual_seed(1)
    model = zoo.create("camel-affine-meta", rank=2, ridge=0.0)
    x = torch.randn(30, 2)
    true_w = torch.tensor([0.7, -1.3])
    with torch.no_grad():
        y = model.predict(x, true_w)
        torch.testing.assert_close(model.adapt(x, y), true_w, atol=1e-4, rtol=1e-4)  # noiseless: exact recovery
    phi, target = torch.randn(20, 3, dtype=torch.float64), torch.randn(20, dtype=torch.float64)
    ridge = 0.5
    w = ridge_solve(phi, target, ridge)
    by_hand = np.linalg.inv(phi.numpy().T @ phi.numpy() + ridge * np.eye(3)) @ phi.numpy().T @ target.numpy()
    np.testing.assert_allclose(w.numpy(), by_hand, rtol=1e-10)
    # the normal equations: the gradient of ||Phi w - y||^2 + ridge ||w||^2 vanishes at w
    assert torch.allclose(phi.T @ (phi @ w - target) + ridge * w, torch.zeros(3, dtype=torch.float64), atol=1e-10)


def test_parameter_map_recovers_an_affine_image():
    rng = np.random.default_rng(0)
    beta = torch.as_tensor(rng.uniform(0, 2, (15, 2)))
    p, c = torch.tensor([[1.5, -0.2], [0.3, 2.0]], dtype=torch.float64), torch.tensor([0.1, -0.4], dtype=torch.float64)
    weights = (beta - c) @ torch.linalg.inv(p)  # beta = w P + c exactly
    mapping = fit_parameter_map(weights, beta)
    torch.testing.assert_close(apply_parameter_map(weights, mapping), beta)
    assert torch.allclose(parameter_r2(apply_parameter_map(weights, mapping), beta), torch.ones(2, dtype=torch.float64))
    assert parameter_r2(beta.mean(0).expand(15, 2), beta).abs().max() < 1e-12  # predicting the mean: R^2 = 0


def test_task_is_the_physics():
    params = {"omega": 1.3, "damping": 0.2}
    x, y = environment_points("pendulum", params, 40, np.random.default_rng(0))
    np.testing.assert_allclose(y[:, 0], -1.3 ** 2 * np.sin(x[:, 0]) - 0.2 * x[:, 1], rtol=1e-10)
    assert np.allclose(physical_coefficients("damped-oscillator", {"omega": 2.0, "zeta": 0.1}), [4.0, 0.4])
    task = MultiEnvironmentTask(train_envs=3, unseen_envs=2, points=20, support=5, query=7, seed=0)
    splits = task.splits()
    assert sum(len(s) for s in splits.values()) == 60 and set(splits["train"].tensors[1].tolist()) == {0, 1, 2}
    assert task.unseen[0]["support"][0].shape == (5, 2) and task.unseen[1]["query"][1].shape == (7, 1)
    assert task.coefficients.shape == (3, 2) and task.unseen_coefficients.shape == (2, 2)
    again = MultiEnvironmentTask(train_envs=3, unseen_envs=2, points=20, support=5, query=7, seed=0)
    assert torch.equal(again.splits()["train"].tensors[0], splits["train"].tensors[0])
    with pytest.raises(ValueError, match="not supported"):
        MultiEnvironmentTask(system="lorenz")
    with pytest.raises(ValueError, match="support must be an int"):
        MultiEnvironmentTask(support=0)


def test_multitask_training_improves_and_adapts():
    task = MultiEnvironmentTask(train_envs=4, unseen_envs=2, points=40, support=10, query=20, seed=1, noise=0.0)
    torch.manual_seed(0)
    model = zoo.create("camel-affine-meta", task=task)
    x, env, y = task.splits()["train"].tensors
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    before = F.mse_loss(model(x, env), y).item()
    for _ in range(300):
        optimizer.zero_grad()
        F.mse_loss(model(x, env), y).backward()
        optimizer.step()
    assert F.mse_loss(model(x, env), y).item() < 0.1 * before
    sx, sy = (torch.as_tensor(a, dtype=torch.float32) for a in task.unseen[0]["support"])
    qx, qy = (torch.as_tensor(a, dtype=torch.float32) for a in task.unseen[0]["query"])
    with torch.no_grad():
        adapted = F.mse_loss(model.predict(qx, model.adapt(sx, sy)), qy).item()
        unadapted = F.mse_loss(model.predict(qx, model.task_weights.mean(0)), qy).item()
    assert adapted < unadapted


def test_anil_inner_loop_is_gradient_descent():
    torch.manual_seed(0)
    anil = ANIL(2, 1, 8, 1, inner_steps=1, inner_lr=0.5)
    x, y = torch.randn(2, 6, 2), torch.randn(2, 6, 1)
    weight, bias = anil.adapt(x, y)
    h = anil.body(x[1]).detach()
    w0, b0 = anil.head_weight.detach().clone().requires_grad_(), anil.head_bias.detach().clone().requires_grad_()
    gw, gb = torch.autograd.grad(F.mse_loss(F.linear(h, w0, b0), y[1]), (w0, b0))
    torch.testing.assert_close(weight[1], w0 - 0.5 * gw)  # environment 1 alone: its own gradient step
    torch.testing.assert_close(bias[1, 0], b0 - 0.5 * gb)


def test_bad_input_and_config():
    model = zoo.create("camel-affine-meta", environments=3)
    with pytest.raises(ValueError, match=r"\(batch, 2\)"):
        model(torch.randn(4, 3), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        model(torch.randn(2, 2), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="integer tensor"):
        model(torch.randn(2, 2), torch.zeros(2))
    with pytest.raises(ValueError, match="weights must be"):
        model.predict(torch.randn(2, 2), torch.randn(5))
    for bad in ({"rank": 0}, {"environments": 0}, {"ridge": -1.0}, {"hidden_dim": 10**7}, {"activation": "sine"}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("camel-affine-meta", **bad)
