"""dysymnet: conformance, the symbolic network's forward by hand and its sympy read-off, pruning, the
constant fit recovering a Nguyen expression, the exact-recovery test, the controller and the
risk-seeking policy gradient, the Nguyen task, and bad input."""

import math

import numpy as np
import pytest
import sympy
import torch

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.dysymnet.model import Controller, equivalent, fit_network, reward, risk_seeking_loss
from zoo_plugins.dysymnet.task import NGUYEN, NguyenTask, truth


def test_conforms_default_and_variants():
    assert_conforms("dysymnet")
    assert_conforms("dysymnet", variant="two-inputs")


def test_forward_by_hand_and_expression():
    torch.manual_seed(0)
    net = zoo.create("dysymnet", n_inputs=2, layers=[["sin", "mul"], ["identity", "square"]])
    x = torch.rand(5, 2)
    w1, w2 = net.weights[0].detach(), net.weights[1].detach()
    b1, b2 = net.biases[0].detach(), net.biases[1].detach()
    g = x @ w1.T + b1  # 3 unit inputs: sin takes one, mul two
    h = torch.stack([torch.sin(g[:, 0]), g[:, 1] * g[:, 2]], 1)
    g = h @ w2.T + b2
    h = torch.stack([g[:, 0], g[:, 1] ** 2], 1)
    expected = h @ net.out_weight.detach().T + net.out_bias.detach()
    torch.testing.assert_close(net(x), expected)
    f = sympy.lambdify(sympy.symbols("x1 x2"), net.expression(digits=12), "numpy")
    np.testing.assert_allclose(f(*x.double().numpy().T), expected[:, 0].numpy(), rtol=1e-4, atol=1e-5)


def test_pruned_weights_stay_zero():
    torch.manual_seed(0)
    net = zoo.create("dysymnet", layers=[["identity", "square"]])
    with torch.no_grad():
        net.weights[0][0, 0] = 0.005
    net.prune(0.01)
    assert net.effective()[0][0, 0] == 0
    x = torch.rand(10, 1)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.1)
    for _ in range(3):
        loss = net(x).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert net.effective()[0][0, 0] == 0 and net.weights[0].grad[0, 0] == 0


def test_fit_recovers_nguyen_1_with_its_structure():
    task = NguyenTask("nguyen-1", seed=0)
    x, y = task.splits()["train"].tensors
    torch.manual_seed(3)
    net = zoo.create("dysymnet", layers=[["identity", "square"], ["identity", "mul"]])
    fit_network(net, x, y)
    assert reward(net, x, y) > 0.9999
    assert equivalent(net.expression(), truth("nguyen-1"))


def test_exact_recovery_rule():
    x1, x2 = sympy.symbols("x1 x2")
    assert equivalent(1.001 * x1 ** 3 + 0.999 * x1 ** 2 + x1 + 0.0004, truth("nguyen-1"))
    assert not equivalent(1.1 * x1 ** 3 + x1 ** 2 + x1, truth("nguyen-1"))
    assert not equivalent(x1 ** 3 + x1 ** 2 + x1 + 0.2 * x1 ** 4, truth("nguyen-1"))
    assert equivalent(sympy.sin(x1 + x2) + sympy.sin(x1 - x2), truth("nguyen-10"))  # = 2 sin x1 cos x2


def test_risk_seeking_loss_by_hand():
    rewards = torch.tensor([0.1, 0.9, 0.5, 0.7])
    log_probs = torch.tensor([-1.0, -2.0, -3.0, -4.0], requires_grad=True)
    entropies = torch.tensor([1.0, 1.0, 2.0, 2.0])
    loss = risk_seeking_loss(rewards, log_probs, entropies, quantile=0.5, entropy_weight=0.1)
    threshold = 0.6  # the median of the rewards (torch.quantile interpolates)
    expected = -((0.9 - threshold) * -2.0 + (0.7 - threshold) * -4.0) / 2 - 0.1 * 1.5
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert log_probs.grad[0] == 0 and log_probs.grad[2] == 0  # below the quantile: no gradient


def test_controller_samples_valid_structures_and_learns_a_reward():
    torch.manual_seed(0)
    controller = Controller()
    generator = torch.Generator().manual_seed(0)
    structure, log_prob, _ = controller.sample(generator)
    assert 1 <= len(structure) <= 3 and all(2 <= len(layer) <= 4 for layer in structure)
    _, again, _ = controller.sample(forced=structure)
    assert again.item() == pytest.approx(log_prob.item())
    optimizer = torch.optim.Adam(controller.parameters(), lr=3e-2)

    def sin_share(s):  # a synthetic reward: the share of sin units
        ops = [op for layer in s for op in layer]
        return ops.count("sin") / len(ops)

    means = []
    for _ in range(30):
        samples = [controller.sample(generator) for _ in range(6)]
        rewards = torch.tensor([sin_share(s) for s, _, _ in samples])
        loss = risk_seeking_loss(rewards, torch.stack([lp for _, lp, _ in samples]),
                                 torch.stack([e for _, _, e in samples]), 0.5, 0.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        means.append(rewards.mean().item())
    assert np.mean(means[-8:]) > np.mean(means[:8]) + 0.2


def test_nguyen_task():
    task = NguyenTask("nguyen-9", train=20, test=50, seed=1)
    x, y = task.splits()["train"].tensors
    assert x.shape == (20, 2) and y.shape == (20, 1) and x.min() >= 0 and x.max() <= 1
    expected = np.sin(x[:, 0].double().numpy()) + np.sin(x[:, 1].double().numpy() ** 2)
    np.testing.assert_allclose(y[:, 0].numpy(), expected, rtol=1e-6)
    assert set(NGUYEN) >= {"nguyen-1", "nguyen-2", "nguyen-9", "nguyen-10"}
    assert math.isclose(float(truth("nguyen-10").subs({"x1": 0.5, "x2": 0.2})), 2 * math.sin(0.5) * math.cos(0.2))
    with pytest.raises(ValueError, match="unknown Nguyen"):
        NguyenTask("nguyen-99")


def test_bad_input_and_config():
    net = zoo.create("dysymnet", n_inputs=2)
    with pytest.raises(ValueError, match=r"\(batch, 2\)"):
        net(torch.randn(3, 3))
    with pytest.raises(TypeError, match="floating-point"):
        net(torch.ones(3, 2, dtype=torch.long))
    for bad in ({"layers": [["tan"]]}, {"layers": []}, {"layers": [[]]}, {"n_inputs": 0}, {"init_std": 0.0}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("dysymnet", **bad)
