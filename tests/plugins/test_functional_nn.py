"""functional-nn: conformance, the functional convolution is the trapezoid integral of the weight
function, shift equivariance and invariance, the dense layer by hand, the shifted-signal task and its
jitter option, training that learns, and bad input."""

import numpy as np
import pytest
import torch

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.functional_nn.model import legendre_basis
from zoo_plugins.functional_nn.task import CLASSES, ShiftedSignalTask, make_shifted_signals, waveform


def test_conforms_default_and_variants():
    assert_conforms("functional-nn")
    assert_conforms("functional-nn", variant="dense", grid_points=32, channels=[4], n_basis=3)


def test_legendre_basis():
    x = np.linspace(-1, 1, 9)
    p = legendre_basis(4, 9).double().numpy()
    np.testing.assert_allclose(p[0], 1.0)
    np.testing.assert_allclose(p[2], (3 * x ** 2 - 1) / 2, atol=1e-6)
    np.testing.assert_allclose(p[3], (5 * x ** 3 - 3 * x) / 2, atol=1e-6)


def test_convolution_is_the_trapezoid_integral_of_the_weight_function():
    torch.manual_seed(0)
    model = zoo.create("functional-nn", grid_points=41, channels=[2], n_basis=4, kernel_width=0.25, normalize=False)
    layer = model.layers[0]
    x = torch.randn(3, 1, 41)
    grid = np.linspace(0, 1, 41)
    u = grid[:11]  # the support [0, delta], delta = 0.25 -> 11 points
    w = layer.weight_functions().detach().double().numpy()  # (out, in, M)
    expected = np.array([[[np.trapezoid(w[o, 0] * xb[0, n:n + 11], u) + layer.bias[o].item()
                           for n in range(41 - 10)] for o in range(2)] for xb in x.double().numpy()])
    np.testing.assert_allclose(layer(x).detach().numpy(), expected, rtol=1e-4, atol=1e-5)
    # w_oi(u) = sum_l beta_oil P_l(2u/delta - 1)
    beta = layer.beta.detach().double().numpy()
    p1 = 2 * u / 0.25 - 1
    np.testing.assert_allclose(w[1, 0], beta[1, 0, 0] + beta[1, 0, 1] * p1 + beta[1, 0, 2] * (3 * p1 ** 2 - 1) / 2
                               + beta[1, 0, 3] * (5 * p1 ** 3 - 3 * p1) / 2, rtol=1e-4, atol=1e-4)


def test_shift_equivariance_and_invariant_logits():
    torch.manual_seed(0)
    model = zoo.create("functional-nn", grid_points=64, channels=[4, 3], n_basis=5, kernel_width=0.1)
    model.eval()
    x = torch.randn(2, 1, 64).cumsum(-1) / 5
    d = 7
    with torch.no_grad():  # shifting the input shifts every output function (normalisation: roll keeps mean/var)
        a, b = model.functions(x), model.functions(torch.roll(x, d, dims=-1))
    torch.testing.assert_close(b[..., d:], a[..., :-d], rtol=1e-4, atol=1e-5)
    grid = np.linspace(0, 1, 64)
    signal = [torch.tensor(waveform("biphasic", grid - c, 0.03), dtype=torch.float32) for c in (0.42, 0.58)]
    with torch.no_grad():  # the same signal at two times on a flat background: the same logits
        logits = model(torch.stack(signal)[:, None])
    torch.testing.assert_close(logits[0], logits[1], rtol=1e-4, atol=1e-5)
    dense = zoo.create("functional-nn", grid_points=64, channels=[4, 3], layer="dense")
    with torch.no_grad():  # the functional MLP is not shift invariant
        far = dense(torch.stack(signal)[:, None])
    assert (far[0] - far[1]).abs().max() > 0.01 * far.abs().max()


def test_dense_layer_by_hand():
    torch.manual_seed(0)
    model = zoo.create("functional-nn", grid_points=21, channels=[2], n_basis=3, layer="dense", normalize=False)
    layer = model.layers[0]
    torch.nn.init.normal_(layer.alpha)
    x = torch.randn(2, 1, 21)
    grid = np.linspace(0, 1, 21)
    phi = legendre_basis(3, 21).double().numpy()  # phi_l on [0, 1] (as P_l(2t - 1))
    beta, alpha = layer.beta.detach().double().numpy(), layer.alpha.detach().double().numpy()
    # h_o(t) = b_o(t) + integral w_o(s, t) x(s) ds, w_o(s, t) = sum_lk beta_olk phi_l(s) phi_k(t)
    expected = np.zeros((2, 2, 21))
    for b in range(2):
        for o in range(2):
            for n in range(21):
                wst = np.einsum("lk,ls,k->s", beta[o, 0], phi, phi[:, n])
                expected[b, o, n] = alpha[o] @ phi[:, n] + np.trapezoid(wst * x[b, 0].double().numpy(), grid)
    np.testing.assert_allclose(layer(x).detach().numpy(), expected, rtol=1e-4, atol=1e-5)


def test_task_places_one_class_waveform():
    curves, labels, centres = make_shifted_signals(60, np.random.default_rng(0), grid_points=200, background=0.0,
                                                   noise=0.0, amplitude=2.0, width=0.03)
    grid = np.linspace(0, 1, 200)
    for curve, label, centre in zip(curves, labels, centres):
        np.testing.assert_allclose(curve, 2.0 * waveform(CLASSES[label], grid - centre, 0.03))
    assert set(labels) == {0, 1, 2} and centres.min() >= 0.15 and centres.max() <= 0.85
    u = np.linspace(-0.5, 0.5, 2001)
    for kind in ("biphasic", "ricker"):  # zero-mean shapes: invisible to the curve's mean
        assert abs(np.trapezoid(waveform(kind, u, 0.03), u)) < 1e-6
    task = ShiftedSignalTask(train=30, val=10, test=20, seed=1)
    x, y = task.splits()["train"].tensors
    assert x.shape == (30, 1, 128) and y.dtype == torch.int64
    with pytest.raises(ValueError, match="width"):
        ShiftedSignalTask(width=0.5)
    with pytest.raises(ValueError, match="waveform kind"):
        waveform("square", u, 0.1)


def test_jitter_time_locks_the_signal():
    grid = np.linspace(0, 1, 128)
    curves, labels, centres = make_shifted_signals(30, np.random.default_rng(0), background=0.0, noise=0.0, jitter=0.0)
    np.testing.assert_allclose(centres, 0.5)  # no jitter: every curve of a class is the same curve
    for curve, label in zip(curves, labels):
        np.testing.assert_allclose(curve, waveform(CLASSES[label], grid - 0.5, 0.02))
    evoked = {}
    for jitter in (0.05, 0.35):
        curves, labels, centres = make_shifted_signals(600, np.random.default_rng(1), background=0.0, noise=0.0,
                                                       jitter=jitter)
        assert centres.min() >= 0.5 - jitter and centres.max() <= 0.5 + jitter
        assert centres.max() - centres.min() > 1.8 * jitter  # the whole range is used
        evoked[jitter] = np.abs(curves[labels == 1].mean(0)).max()  # the class mean of the biphasic wave
    # time-locked signals survive averaging (a linear functional sees them); randomly placed ones wash out
    assert evoked[0.05] > 0.25 and evoked[0.35] < 0.1
    task = ShiftedSignalTask(train=20, val=5, test=5, jitter=0.05, seed=2)
    assert task.info.extra["jitter"] == 0.05 and np.all(np.abs(task.centres - 0.5) <= 0.05)
    for bad in (-0.01, 0.4):
        with pytest.raises(ValueError, match="jitter must be in"):
            ShiftedSignalTask(jitter=bad)


def test_training_learns_an_easy_version():
    task = ShiftedSignalTask(train=200, val=20, test=200, width=0.05, amplitude=2.0, background=0.3, seed=0)
    torch.manual_seed(0)
    model = zoo.create("functional-nn", task=task, channels=[8, 4], n_basis=5)
    zoo.train(model, task, optimizer="adam", lr=1e-2, batch_size=32, epochs=5, eval_splits=[], final_splits=[],
              progress=False)
    model.eval()
    x, y = task.splits()["test"].tensors
    with torch.no_grad():
        accuracy = (model(x).argmax(-1) == y).float().mean().item()
    assert accuracy > 0.6


def test_bad_input_and_config():
    model = zoo.create("functional-nn", grid_points=32, channels=[2], kernel_width=0.2)
    with pytest.raises(ValueError, match=r"\(batch, 1, 32\)"):
        model(torch.randn(2, 1, 30))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(2, 32, dtype=torch.long))
    for bad in ({"kernel_width": 0.5, "channels": [4, 4]}, {"grid_points": 8, "kernel_width": 0.01},
                {"n_basis": 0}, {"channels": [0]}, {"layer": "recurrent"}, {"activation": "swish"}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("functional-nn", **bad)
