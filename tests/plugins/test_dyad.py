"""dyad: conformance (DyAd and the baseline forecaster), AdaIN's formula, adaptive padding, the
encoder's code steering the forecast, the losses, the oscillator task's split of parameter
ranges, a tiny training that improves, and bad input."""

import numpy as np
import pytest
import torch

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.dyad.model import AdaPadConv, adain
from zoo_plugins.dyad.task import TRAIN_RANGES, UNSEEN_RANGES, OscillatorForecastTask, standardise


def test_conforms_default_and_baseline():
    assert_conforms("dyad", lookback=8, horizon=4)
    assert_conforms("dyad", variant="baseline", lookback=8, horizon=4)


def test_adain_formula():
    torch.manual_seed(0)
    h = torch.randn(3, 4, 10)
    scale, shift = torch.rand(3, 4) + 0.5, torch.randn(3, 4)
    out = adain(h, scale, shift, eps=0.0)
    mean, std = h.mean(-1, keepdim=True), h.std(-1, unbiased=False, keepdim=True)
    torch.testing.assert_close(out, scale[..., None] * (h - mean) / std + shift[..., None])
    # the output's per-channel statistics over time are exactly the style's: mean = shift, std = scale
    torch.testing.assert_close(out.mean(-1), shift)
    torch.testing.assert_close(out.std(-1, unbiased=False), scale)


def test_adaptive_padding_uses_the_code_at_the_borders_only():
    torch.manual_seed(0)
    conv = AdaPadConv(2, 3, 3, code_dim=4)
    h, z1, z2 = torch.randn(1, 2, 9), torch.randn(1, 4), torch.randn(1, 4)
    a, b = conv(h, z1), conv(h, z2)
    assert a.shape == (1, 3, 9)
    torch.testing.assert_close(a[..., 1:-1], b[..., 1:-1])  # interior: the code plays no part
    assert not torch.allclose(a[..., 0], b[..., 0]) and not torch.allclose(a[..., -1], b[..., -1])
    zero = AdaPadConv(2, 3, 3, code_dim=None)
    torch.testing.assert_close(zero(h, None), torch.nn.functional.conv1d(h, zero.conv.weight, zero.conv.bias, padding=1))


def test_code_steers_the_forecast_and_losses():
    torch.manual_seed(0)
    model = zoo.create("dyad", lookback=8, horizon=4)
    x = torch.randn(2, 8, 2)
    z = model.encode(x)
    assert z.shape == (2, 8)
    torch.testing.assert_close(model(x), model.forecast(x, z))
    assert not torch.allclose(model.forecast(x, z), model.forecast(x, z + 1.0))
    y, c = torch.randn(2, 4, 2), torch.randn(2, 2)
    parts = model.losses(x, y, c)
    torch.testing.assert_close(parts["weak"], ((z[:, :2] - c) ** 2).mean())
    torch.testing.assert_close(parts["invariance"], ((model.encode(x[:, :4]) - model.encode(x[:, 4:])) ** 2).mean())
    torch.testing.assert_close(parts["loss"], parts["forecast"] + 1.0 * parts["weak"] + 0.1 * parts["invariance"])
    baseline = zoo.create("dyad", variant="baseline", lookback=8, horizon=4)
    assert baseline.encoder is None and set(baseline.losses(x, y, c)) == {"loss", "forecast"}


def test_task_parameter_ranges_and_windows():
    task = OscillatorForecastTask(n_train=6, n_val=2, n_test=4, windows=2, lookback=10, horizon=5, seed=0, noise=0.0)
    x, y, c = task.splits()["train"].tensors
    assert x.shape == (12, 10, 2) and y.shape == (12, 5, 2) and c.shape == (12, 2)
    assert torch.equal(c[0], c[1])  # two windows of one trajectory share its parameters
    torch.testing.assert_close(x[1, 0], y[0, -1], atol=1.0, rtol=0)  # consecutive windows of one path
    assert c.abs().max() <= 1.0  # training parameters inside the training ranges
    unseen = task.splits()["test"].tensors[2]
    assert (unseen[:, 0] >= 1.0 - 1e-6).all()  # omega >= 1.5 is >= +1 in training-range units
    assert np.allclose(standardise([{"omega": 1.5, "zeta": 0.0}], TRAIN_RANGES), [[1.0, -1.0]])
    assert UNSEEN_RANGES["omega"][0] == TRAIN_RANGES["omega"][1]
    with pytest.raises(ValueError, match="lookback must be an int"):
        OscillatorForecastTask(lookback=2)


def test_tiny_training_improves():
    task = OscillatorForecastTask(n_train=30, n_val=2, n_test=10, lookback=10, horizon=5, seed=1)
    torch.manual_seed(0)
    model = zoo.create("dyad", task=task, hidden=16)
    x, y, c = task.splits()["train"].tensors
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    before = model.losses(x, y, c)
    for _ in range(150):
        optimizer.zero_grad()
        model.losses(x, y, c)["loss"].backward()
        optimizer.step()
    after = model.losses(x, y, c)
    assert after["forecast"] < 0.3 * before["forecast"] and after["weak"] < 0.3 * before["weak"]


def test_bad_input_and_config():
    model = zoo.create("dyad", lookback=8, horizon=4)
    with pytest.raises(ValueError, match=r"\(batch, 8, 2\)"):
        model(torch.randn(2, 9, 2))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(2, 8, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="odd"):
        zoo.create("dyad", kernel_size=4)
    with pytest.raises(ValueError, match="param_dim"):
        zoo.create("dyad", code_dim=2, param_dim=3)
    with pytest.raises(ValueError, match="no encoder"):
        zoo.create("dyad", adaptive=False).encode(torch.randn(1, 20, 2))
    for bad in ({"lookback": 2}, {"hidden": 0}, {"weak_weight": -1.0}, {"code_dim": 10**6}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("dyad", **bad)
